using System.Globalization;
using System.Text.Json;

namespace VisualSearch.Albums;

/// <summary>
/// Album shares in one JSON file (the embedded host: <c>&lt;LocalIndex:Path&gt;/albums/shares.json</c>, beside the
/// index's model versions so shares survive a reindex). Written to a temporary file, flushed, then renamed over the
/// old one, so a crash leaves the old or the new document, never a torn one. The version is a counter in the file;
/// the compare-and-write holds an exclusive lock file, so writers in other processes (or other store objects) over the
/// same file never both pass the version check.
/// </summary>
public sealed class FileAlbumShareStore : IAlbumShareStore
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };
    private readonly SemaphoreSlim _gate = new(1, 1);

    public FileAlbumShareStore(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = System.IO.Path.GetFullPath(path);
    }

    public string Path { get; }

    public async Task<AlbumShareSnapshot> LoadAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var document = await ReadAsync(cancellationToken).ConfigureAwait(false);
            return new AlbumShareSnapshot(document?.Shares ?? [], document?.Version.ToString(CultureInfo.InvariantCulture));
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<bool> TrySaveAsync(IReadOnlyList<AlbumShare> shares, string? expectedVersion, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(shares);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            using var exclusive = await LockAsync(cancellationToken).ConfigureAwait(false);
            var current = await ReadAsync(cancellationToken).ConfigureAwait(false);
            if (current?.Version.ToString(CultureInfo.InvariantCulture) != expectedVersion) return false;
            var next = new Document((current?.Version ?? 0) + 1, [.. shares]);
            var temporary = Path + ".tmp";
            await using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous))
            {
                await JsonSerializer.SerializeAsync(file, next, Json, cancellationToken).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, Path, overwrite: true);
            return true;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Opens the lock file exclusively, waiting while another writer holds it.</summary>
    private async Task<FileStream> LockAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return new FileStream(Path + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (attempt < 200)
            {
                await Task.Delay(25, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<Document?> ReadAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(Path)) return null;
        await using var file = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096, FileOptions.Asynchronous);
        return await JsonSerializer.DeserializeAsync<Document>(file, Json, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidDataException($"{Path} holds no album shares document.");
    }

    private sealed record Document(long Version, AlbumShare[] Shares);
}
