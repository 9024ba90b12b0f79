using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;
using static VisualSearch.UnitTests.Index.PartsFixture;

namespace VisualSearch.UnitTests.Index;

/// <summary>
/// The snapshot beside the log (records.snapshot): an open starts from it and replays only the log past it, in
/// exact and in graph mode; a torn, corrupt, foreign or stale snapshot is ignored (the whole log replayed, the same
/// records) and replaced by a valid one.
/// </summary>
public sealed class IndexSnapshotTests : IDisposable
{
    private const int Dimension = 8;
    private const int SnapshotSaved = 109;
    private const int SnapshotLoaded = 110;
    private const int SnapshotIgnored = 111;
    private const int GraphBuilt = 102;
    private const int GraphLoaded = 103;
    private static readonly IndexSchema Schema = new("m-1", Dimension);
    private readonly TempDirectory _dir = new();
    private readonly float[][] _vectors = RandomUnits(200, Dimension, seed: 5);

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(0)]
    [InlineData(50)]
    public async Task An_open_starts_from_the_snapshot_and_replays_only_the_log_past_it(int annThreshold)
    {
        var live = Path.Combine(_dir.Path, "live");
        var crashed = Path.Combine(_dir.Path, "crashed");
        var log = new EventLog();
        using (var index = await OpenAsync(live, annThreshold, log))
        {
            for (var i = 0; i < 120; i++) await index.UpsertAsync(Record(i, i));
            for (var i = 0; i < 10; i++) Assert.True(await index.DeleteAsync($"r{i * 7}"));
        }

        Assert.Contains(SnapshotSaved, log.Events);
        Assert.True(File.Exists(Path.Combine(live, IndexSnapshot.FileName)));
        var snapshotLength = new FileInfo(Path.Combine(live, RecordLog.FileName)).Length;

        log = new EventLog();
        using (var index = await OpenAsync(live, annThreshold, log))
        {
            Assert.Contains(SnapshotLoaded, log.Events);
            Assert.DoesNotContain(SnapshotIgnored, log.Events);
            if (annThreshold > 0)
            {
                Assert.Contains(GraphLoaded, log.Events);
                Assert.DoesNotContain(GraphBuilt, log.Events);
            }

            await AssertHoldsAsync(index, Expected(upserts: 120, deleted: [.. Enumerable.Range(0, 10).Select(i => i * 7)]));

            // Writes after the snapshot, then a kill -9: a copy of the files taken while the index is open is
            // what such a crash leaves (every acknowledged entry is in the log; no snapshot or graph saved since).
            for (var i = 120; i < 150; i++) await index.UpsertAsync(Record(i, i));
            await index.UpsertAsync(Record(3, 199));
            Assert.True(await index.DeleteAsync("r5"));
            Assert.True(await index.DeleteAsync("r121"));
            CopyFiles(live, crashed);
        }

        log = new EventLog();
        using var reopened = await OpenAsync(crashed, annThreshold, log);
        var loaded = Assert.Single(log.Entries, e => e.Id == SnapshotLoaded);
        Assert.Contains($"at log length {snapshotLength}", loaded.Message, StringComparison.Ordinal);
        var expected = Expected(upserts: 150, deleted: [.. Enumerable.Range(0, 10).Select(i => i * 7), 5, 121]);
        expected["r3"] = _vectors[199];
        await AssertHoldsAsync(reopened, expected);
    }

    public static TheoryData<string> BadSnapshots => new() { "truncated", "flipped-byte", "empty", "of-another-log", "log-cut-below-it" };

    [Theory]
    [MemberData(nameof(BadSnapshots))]
    public async Task A_bad_snapshot_is_ignored_the_whole_log_replayed_and_a_valid_one_saved(string damage)
    {
        var path = Path.Combine(_dir.Path, "index");
        var snapshot = Path.Combine(path, IndexSnapshot.FileName);
        var logPath = Path.Combine(path, RecordLog.FileName);
        using (var index = await OpenAsync(path, annThreshold: 0, new EventLog()))
        {
            for (var i = 0; i < 40; i++) await index.UpsertAsync(Record(i, i));
        }

        var expected = Expected(upserts: 40, deleted: []);
        switch (damage)
        {
            case "truncated":
                Truncate(snapshot, new FileInfo(snapshot).Length / 2);
                break;
            case "flipped-byte":
                var bytes = await File.ReadAllBytesAsync(snapshot);
                bytes[bytes.Length / 2] ^= 0x40;
                await File.WriteAllBytesAsync(snapshot, bytes);
                break;
            case "empty":
                await File.WriteAllBytesAsync(snapshot, []);
                break;
            case "of-another-log":
                // A valid snapshot of a different log of the same records' shape (another index's, or this one's before a compaction).
                var other = Path.Combine(_dir.Path, "other");
                using (var index = await OpenAsync(other, annThreshold: 0, new EventLog()))
                {
                    for (var i = 0; i < 40; i++) await index.UpsertAsync(Record(i, 199 - i));
                }

                File.Copy(Path.Combine(other, IndexSnapshot.FileName), snapshot, overwrite: true);
                break;
            case "log-cut-below-it":
                // The log ends before the length the snapshot names (cut by hand, or a copy of an older log).
                var entry = new FileInfo(logPath).Length / 40;
                Truncate(logPath, entry * 30);
                expected = Expected(upserts: 30, deleted: []);
                break;
        }

        var log = new EventLog();
        using (var index = await OpenAsync(path, annThreshold: 0, log))
        {
            Assert.Contains(SnapshotIgnored, log.Events);
            Assert.DoesNotContain(SnapshotLoaded, log.Events);
            await AssertHoldsAsync(index, expected);
            // A read-only session saves nothing while open; the valid snapshot is saved when it closes.
            Assert.DoesNotContain(SnapshotSaved, log.Events);
        }

        Assert.Contains(SnapshotSaved, log.Events);

        log = new EventLog();
        using var again = await OpenAsync(path, annThreshold: 0, log);
        Assert.Contains(SnapshotLoaded, log.Events);
        await AssertHoldsAsync(again, expected);
    }

    [Fact]
    public async Task A_compaction_replaces_the_snapshot_with_one_of_the_new_log()
    {
        var path = Path.Combine(_dir.Path, "index");
        using (var index = await OpenAsync(path, annThreshold: 0, new EventLog()))
        {
            for (var i = 0; i < 100; i++) await index.UpsertAsync(Record(i, i));
        }

        // The snapshot of the first 100 entries; 1,100 more entries of the same 100 records compact the log under it.
        var log = new EventLog();
        using (var index = await OpenAsync(path, annThreshold: 0, log))
        {
            for (var round = 1; round < 12; round++)
            {
                for (var i = 0; i < 100; i++) await index.UpsertAsync(Record(i, (i + round) % 200));
            }
        }

        Assert.Contains(101, log.Events); // compacted
        Assert.False(File.Exists(Path.Combine(path, IndexSnapshot.FileName + ".tmp")));
        log = new EventLog();
        using var reopened = await OpenAsync(path, annThreshold: 0, log);
        Assert.Contains(SnapshotLoaded, log.Events);
        var expected = Enumerable.Range(0, 100).ToDictionary(i => $"r{i}", i => _vectors[(i + 11) % 200]);
        await AssertHoldsAsync(reopened, expected);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(50)]
    public async Task A_read_only_session_writes_nothing_while_open_and_at_close_only_a_missing_snapshot(int annThreshold)
    {
        var path = Path.Combine(_dir.Path, "index");
        var snapshot = Path.Combine(path, IndexSnapshot.FileName);
        using (var index = await OpenAsync(path, annThreshold, new EventLog()))
        {
            for (var i = 0; i < 120; i++) await index.UpsertAsync(Record(i, i));
        }

        // What vsearch search and eval do: open, search, read, count, close. With a current snapshot nothing changes.
        var before = Files(path);
        using (var index = await OpenAsync(path, annThreshold, new EventLog()))
        {
            await ReadOnlyAsync(index);
            Assert.Equal(before, Files(path));
        }

        Assert.Equal(before, Files(path));

        // Without a snapshot (an index of an earlier release, or one deleted): the whole log is replayed and still
        // nothing is written while the index is open; the snapshot is saved when it closes.
        File.Delete(snapshot);
        before = Files(path);
        var log = new EventLog();
        using (var index = await OpenAsync(path, annThreshold, log))
        {
            await ReadOnlyAsync(index);
            Assert.Equal(before, Files(path));
            Assert.DoesNotContain(SnapshotSaved, log.Events);
        }

        Assert.Contains(SnapshotSaved, log.Events);
        Assert.True(File.Exists(snapshot));
        log = new EventLog();
        using var reopened = await OpenAsync(path, annThreshold, log);
        Assert.Contains(SnapshotLoaded, log.Events);
        await AssertHoldsAsync(reopened, Expected(upserts: 120, deleted: []));
    }

    [Fact]
    public void The_snapshot_codec_carries_every_field_of_the_metadata()
    {
        // A new field of ItemMetadata needs a place in MetadataCodec (and a new snapshot format), or a snapshot would drop it.
        var fields = typeof(ItemMetadata).GetProperties().Where(p => p.CanWrite).Select(p => p.Name).Order(StringComparer.Ordinal);
        Assert.Equal(fields, MetadataCodec.Fields.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Every_metadata_field_survives_a_snapshot_and_repeated_values_are_shared_after_the_load()
    {
        var path = Path.Combine(_dir.Path, "fields");
        var uploaded = new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.FromHours(2)).AddTicks(1234567);
        ItemMetadata Full(int i) => new()
        {
            Source = i % 2 == 0 ? "photos" : "scans",
            Name = $"r{i}.jpg",
            ETag = i % 3 == 0 ? null : $"\"0x8D{i:X}\"",
            ContentHash = $"{i:x64}",
            Size = 3_000_000L + i,
            ContentType = i % 2 == 0 ? "image/jpeg" : "image/png",
            Width = 4032 + i,
            Height = 3024 - i,
            UploadedAt = uploaded.AddMinutes(i),
            IndexedAt = new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.FromMinutes(-330)).AddSeconds(i),
            ModelId = Schema.ModelId,
            Tags = i % 4 == 3 ? new Dictionary<string, string>() : new Dictionary<string, string> { ["album"] = $"a{i % 2}", ["owner"] = "ü-1", ["z"] = "" },
        };

        using (var index = await OpenAsync(path, 0, new EventLog()))
        {
            for (var i = 0; i < 40; i++) await index.UpsertAsync(new VectorRecord($"r{i}", _vectors[i], Full(i)));
        }

        var log = new EventLog();
        using var reopened = await OpenAsync(path, 0, log);
        Assert.Contains(SnapshotLoaded, log.Events);
        Assert.DoesNotContain(SnapshotIgnored, log.Events);
        var loaded = new List<ItemMetadata>();
        for (var i = 0; i < 40; i++)
        {
            var expected = Full(i);
            var actual = (await reopened.GetAsync($"r{i}"))!.Metadata;
            Assert.Equal(expected with { Tags = actual.Tags }, actual);
            Assert.Equal(expected.UploadedAt.Offset, actual.UploadedAt.Offset);
            Assert.Equal(expected.IndexedAt.Offset, actual.IndexedAt.Offset);
            Assert.Equal(expected.Tags.OrderBy(t => t.Key), actual.Tags.OrderBy(t => t.Key));
            loaded.Add(actual);
        }

        Assert.Same(loaded[0].Source, loaded[2].Source);
        Assert.Same(loaded[1].ContentType, loaded[5].ContentType);
        Assert.Same(loaded[0].Tags, loaded[4].Tags);
        Assert.NotSame(loaded[0].Tags, loaded[1].Tags);
    }

    private async Task ReadOnlyAsync(LocalVectorIndex index)
    {
        Assert.Equal(120, await index.CountAsync());
        Assert.NotNull(await index.GetAsync("r7"));
        Assert.Equal("r9", (await index.SearchAsync(_vectors[9], new VectorQuery(3)))[0].Id);
        Assert.NotEmpty(await index.SearchAsync(_vectors[9], new VectorQuery(3, Filter: new SearchFilter { Conditions = [new FieldEquals("source", "photos")] })));
    }

    /// <summary>Every file but the lock: name to length, last write time and content hash.</summary>
    private static SortedDictionary<string, string> Files(string path) => new(
        Directory.GetFiles(path).Where(f => Path.GetFileName(f) != RecordLog.LockFileName).ToDictionary(
            f => Path.GetFileName(f),
            f => $"{new FileInfo(f).Length} {File.GetLastWriteTimeUtc(f).Ticks} {Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f)))}"),
        StringComparer.Ordinal);

    private static void CopyFiles(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from).Where(f => Path.GetFileName(f) != RecordLog.LockFileName))
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }

    private static void Truncate(string path, long length)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
        file.SetLength(length);
    }

    private static async Task AssertHoldsAsync(LocalVectorIndex index, Dictionary<string, float[]> expected)
    {
        Assert.Equal(expected.Count, await index.CountAsync());
        foreach (var (id, vector) in expected)
        {
            var record = await index.GetAsync(id);
            Assert.NotNull(record);
            Assert.Equal(vector, record.Vector);
            Assert.Equal(id + ".jpg", record.Metadata.Name);
            var best = await index.SearchAsync(vector, new VectorQuery(1));
            Assert.Equal(id, Assert.Single(best).Id);
        }
    }

    private Dictionary<string, float[]> Expected(int upserts, int[] deleted) =>
        Enumerable.Range(0, upserts).Where(i => !deleted.Contains(i)).ToDictionary(i => $"r{i}", i => _vectors[i]);

    private VectorRecord Record(int id, int vector) => new($"r{id}", _vectors[vector], Metadata($"r{id}"));

    private static async Task<LocalVectorIndex> OpenAsync(string path, int annThreshold, EventLog log)
    {
        var index = new LocalVectorIndex(Options.Create(new LocalIndexOptions { Path = path, FlushToDisk = false, AnnThreshold = annThreshold, CompactionRatio = 2 }), log);
        await index.InitializeAsync(Schema);
        return index;
    }

    /// <summary>The index's log events (EventId and message), to see which way an open went.</summary>
    private sealed class EventLog : ILogger<LocalVectorIndex>
    {
        public List<(int Id, string Message)> Entries { get; } = [];

        public IEnumerable<int> Events => Entries.Select(e => e.Id);

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Entries) Entries.Add((eventId.Id, formatter(state, exception)));
        }
    }
}
