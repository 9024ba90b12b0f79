using System.Text.Json;
using System.Text.Json.Serialization;

namespace VisualSearch.Duplicates;

/// <summary>
/// The user's decisions, kept in one append-only JSON-lines file (flushed to disk before a decision is
/// acknowledged) and read once into memory. Decisions name item ids, which derive from the source (container
/// and blob name, or the relative path), so they hold across restarts and reindexes. A torn last line (a crash
/// mid-write) is ignored on read. Each decision carries the owner whose scope it was made in (none: everyone's, the
/// single user or an administrator); it applies to that owner's groups and to everyone's view, never to another owner's.
/// </summary>
public sealed class DuplicateDecisionStore
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly HashSet<(string? Owner, string A, string B)> _separated = [];
    private readonly Dictionary<string, DateTimeOffset> _kept = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private bool _loaded;

    public DuplicateDecisionStore(string path, TimeProvider time)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = System.IO.Path.GetFullPath(path);
        _time = time;
    }

    public string Path { get; }

    /// <summary>
    /// The not-duplicates pairs (ids in ordinal order) that apply to <paramref name="owner"/>'s groups: those that owner
    /// recorded; for null (everyone's view) every pair.
    /// </summary>
    public async Task<IReadOnlyCollection<(string A, string B)>> GetSeparatedAsync(string? owner = null, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await LoadAsync(cancellationToken).ConfigureAwait(false);
            return _separated.Where(s => owner is null || s.Owner == owner).Select(s => (s.A, s.B)).ToHashSet();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Items a user chose to keep.</summary>
    public async Task<IReadOnlySet<string>> GetKeptAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await LoadAsync(cancellationToken).ConfigureAwait(false);
            return _kept.Keys.ToHashSet(StringComparer.Ordinal);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Records, for <paramref name="owner"/>, that a and b are not copies; false if that was already recorded.</summary>
    public Task<bool> SeparateAsync(string a, string b, string? owner = null, CancellationToken cancellationToken = default)
    {
        var pair = string.CompareOrdinal(a, b) <= 0 ? (a, b) : (b, a);
        return AppendAsync(new Entry("not-duplicates", [pair.Item1, pair.Item2], _time.GetUtcNow(), owner), cancellationToken);
    }

    /// <summary>Records, for <paramref name="owner"/>, that <paramref name="kept"/> is the one to keep among <paramref name="others"/>.</summary>
    public Task<bool> KeepAsync(string kept, IReadOnlyList<string> others, string? owner = null, CancellationToken cancellationToken = default) =>
        AppendAsync(new Entry("keep", [kept, .. others], _time.GetUtcNow(), owner), cancellationToken);

    private async Task<bool> AppendAsync(Entry entry, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await LoadAsync(cancellationToken).ConfigureAwait(false);
            if (entry.Decision == "not-duplicates" && _separated.Contains((entry.Owner, entry.Items[0], entry.Items[1]))) return false;
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            var line = JsonSerializer.SerializeToUtf8Bytes(entry, Json);
            await using (var file = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read, 4096, FileOptions.Asynchronous))
            {
                await file.WriteAsync(line, cancellationToken).ConfigureAwait(false);
                await file.WriteAsync("\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }

            Apply(entry);
            return true;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        if (_loaded) return;
        if (File.Exists(Path))
        {
            foreach (var line in await File.ReadAllLinesAsync(Path, cancellationToken).ConfigureAwait(false))
            {
                if (string.IsNullOrWhiteSpace(line)) continue;
                Entry? entry;
                try
                {
                    entry = JsonSerializer.Deserialize<Entry>(line, Json);
                }
                catch (JsonException)
                {
                    continue; // a torn last line
                }

                if (entry?.Items is { Length: >= 2 }) Apply(entry);
            }
        }

        _loaded = true;
    }

    private void Apply(Entry entry)
    {
        if (entry.Decision == "not-duplicates") _separated.Add((entry.Owner, entry.Items[0], entry.Items[1]));
        else if (entry.Decision == "keep") _kept[entry.Items[0]] = entry.At;
    }

    private sealed record Entry(string Decision, string[] Items, DateTimeOffset At, string? Owner = null);
}
