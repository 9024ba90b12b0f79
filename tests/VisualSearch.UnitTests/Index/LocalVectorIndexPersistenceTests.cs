using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;

namespace VisualSearch.UnitTests.Index;

/// <summary>What the embedded index promises on disk: durability, crash recovery, compaction, exclusivity.</summary>
public sealed class LocalVectorIndexPersistenceTests : IDisposable
{
    private static readonly IndexSchema Schema = new("m-1", 4);
    private readonly TempDirectory _dir = new();

    private string LogPath => Path.Combine(_dir.Path, "records.log");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Records_survive_dispose_and_reopen()
    {
        using (var index = await OpenAsync())
        {
            await index.UpsertAsync(Record("a", [1, 0, 0, 0], "first"));
            await index.UpsertAsync(Record("b", [0, 1, 0, 0], "second"));
            await index.UpsertAsync(Record("c", [0, 0, 1, 0], "third"));
            await index.UpsertAsync(Record("a", [0, 0, 0, 1], "replaced"));
            Assert.True(await index.DeleteAsync("c"));
        }

        using var reopened = await OpenAsync();
        Assert.Equal(2, await reopened.CountAsync());
        var a = await reopened.GetAsync("a");
        Assert.NotNull(a);
        Assert.Equal([0f, 0, 0, 1], a.Vector);
        Assert.Equal("replaced", a.Metadata.Tags["album"]);
        Assert.Equal(new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.FromHours(2)), a.Metadata.UploadedAt);
        Assert.Equal("second", (await reopened.GetAsync("b"))?.Metadata.Tags["album"]);
        Assert.Null(await reopened.GetAsync("c"));
        Assert.Equal(["a", "b"], (await reopened.SearchAsync(new float[] { 0, 0.6f, 0, 0.8f }, new VectorQuery(5))).Select(h => h.Id));
    }

    public static TheoryData<string> TornTails => new() { "half-entry", "garbage" };

    [Theory]
    [MemberData(nameof(TornTails))]
    public async Task A_torn_tail_is_cut_off_and_every_earlier_record_survives(string tail)
    {
        using (var index = await OpenAsync())
        {
            for (var i = 0; i < 5; i++) await index.UpsertAsync(Record($"r{i}", Basis(i % 4), $"album{i}"));
        }

        // The bytes of one whole entry: what a sixth upsert appends.
        var before = new FileInfo(LogPath).Length;
        using (var index = await OpenAsync()) await index.UpsertAsync(Record("r5", Basis(1), "album5"));
        var all = await File.ReadAllBytesAsync(LogPath);
        var entry = all.AsSpan((int)before).ToArray();
        Assert.True(entry.Length > 40);

        // A crash mid-write: part of a further entry at the end of the log.
        using (var log = new FileStream(LogPath, FileMode.Append, FileAccess.Write))
        {
            if (tail == "half-entry")
            {
                log.Write(entry, 0, entry.Length / 2);
            }
            else
            {
                var garbage = new byte[777];
                new Random(42).NextBytes(garbage);
                log.Write(garbage);
            }
        }

        using (var index = await OpenAsync())
        {
            Assert.Equal(6, await index.CountAsync());
            for (var i = 0; i < 6; i++) Assert.Equal($"album{i}", (await index.GetAsync($"r{i}"))?.Metadata.Tags["album"]);
            Assert.Equal(all.Length, new FileInfo(LogPath).Length);

            await index.UpsertAsync(Record("after", Basis(2), "after-crash"));
        }

        using var again = await OpenAsync();
        Assert.Equal(7, await again.CountAsync());
        Assert.Equal("after-crash", (await again.GetAsync("after"))?.Metadata.Tags["album"]);
        Assert.Equal("album5", (await again.GetAsync("r5"))?.Metadata.Tags["album"]);
    }

    [Fact]
    public async Task A_flipped_byte_in_the_last_entry_drops_only_that_entry()
    {
        using (var index = await OpenAsync())
        {
            await index.UpsertAsync(Record("a", Basis(0), "one"));
            await index.UpsertAsync(Record("b", Basis(1), "two"));
        }

        var before = new FileInfo(LogPath).Length;
        using (var index = await OpenAsync()) await index.UpsertAsync(Record("c", Basis(2), "three"));
        var bytes = await File.ReadAllBytesAsync(LogPath);
        var middleOfLast = (int)(before + (bytes.Length - before) / 2);
        bytes[middleOfLast] ^= 0x5A;
        await File.WriteAllBytesAsync(LogPath, bytes);

        using var reopened = await OpenAsync();
        Assert.Equal(2, await reopened.CountAsync());
        Assert.NotNull(await reopened.GetAsync("a"));
        Assert.NotNull(await reopened.GetAsync("b"));
        Assert.Null(await reopened.GetAsync("c"));
        Assert.Equal(before, new FileInfo(LogPath).Length);
    }

    [Fact]
    public async Task Compaction_keeps_the_latest_value_and_shrinks_the_log()
    {
        const int writes = 2100;
        long entrySize, largest = 0, final;
        var shrank = false;
        using (var index = await OpenAsync(flushToDisk: false))
        {
            await index.UpsertAsync(Record("other", Basis(3), "kept"));
            entrySize = new FileInfo(LogPath).Length;
            var previous = entrySize;
            for (var i = 1; i <= writes; i++)
            {
                await index.UpsertAsync(Record("same", [i, 1, 0, 0], $"v{i}"));
                var length = new FileInfo(LogPath).Length;
                if (length < previous) shrank = true;
                largest = Math.Max(largest, length);
                previous = length;
            }

            final = new FileInfo(LogPath).Length;
            Assert.Equal(2, await index.CountAsync());
            Assert.Equal($"v{writes}", (await index.GetAsync("same"))?.Metadata.Tags["album"]);
        }

        Assert.True(shrank, "The log never got shorter.");
        // Without compaction the log would hold 2,101 entries of roughly entrySize bytes each.
        Assert.True(final < (writes + 1) * entrySize * 2 / 3, $"Log is {final} bytes; {writes + 1} entries are about {(writes + 1) * entrySize}.");
        Assert.True(largest < (writes + 1) * entrySize * 2 / 3, $"Log reached {largest} bytes.");
        Assert.False(File.Exists(LogPath + ".compact"));

        using var reopened = await OpenAsync();
        Assert.Equal(2, await reopened.CountAsync());
        var same = await reopened.GetAsync("same");
        Assert.NotNull(same);
        Assert.Equal([writes, 1f, 0, 0], same.Vector);
        Assert.Equal($"v{writes}", same.Metadata.Tags["album"]);
        Assert.Equal("kept", (await reopened.GetAsync("other"))?.Metadata.Tags["album"]);
    }

    [Fact]
    public async Task A_second_instance_on_an_open_directory_fails_with_in_use()
    {
        using var first = await OpenAsync();
        await first.UpsertAsync(Record("a", Basis(0), "x"));

        using var second = Create();
        var ex = await Assert.ThrowsAsync<VectorIndexException>(() => second.InitializeAsync(Schema));

        Assert.Contains("in use", ex.Message, StringComparison.Ordinal);
        Assert.Equal(("local", _dir.Path, "open", true), (ex.Backend, ex.IndexName, ex.Operation, ex.Retriable));
        Assert.IsAssignableFrom<IOException>(ex.InnerException);
        Assert.Equal(1, await first.CountAsync());
    }

    [Fact]
    public async Task The_directory_is_free_again_once_the_first_instance_is_disposed()
    {
        var first = await OpenAsync();
        first.Dispose();
        using var second = await OpenAsync();
        Assert.Equal(0, await second.CountAsync());
    }

    [Fact]
    public async Task A_mismatched_initialize_on_an_open_index_keeps_the_directory_locked()
    {
        using var first = await OpenAsync();
        await Assert.ThrowsAsync<IndexModelMismatchException>(() => first.InitializeAsync(new IndexSchema("m-2", 4)));

        using var second = Create();
        var ex = await Assert.ThrowsAsync<VectorIndexException>(() => second.InitializeAsync(Schema));
        Assert.Contains("in use", ex.Message, StringComparison.Ordinal);

        await first.UpsertAsync(Record("a", Basis(0), "still-open"));
        Assert.Equal(1, await first.CountAsync());
    }

    [Fact]
    public async Task Reopening_with_another_dimension_throws_IndexModelMismatchException()
    {
        using (var index = await OpenAsync()) await index.UpsertAsync(Record("a", Basis(0), "x"));

        using var other = Create();
        await Assert.ThrowsAsync<IndexModelMismatchException>(() => other.InitializeAsync(new IndexSchema("m-1", 8)));

        // The failed open released the lock: the right schema opens it.
        using var right = await OpenAsync();
        Assert.Equal(1, await right.CountAsync());
    }

    [Fact]
    public async Task Records_of_another_model_are_refused()
    {
        using var index = await OpenAsync();
        var record = Record("a", Basis(0), "x");
        var foreign = record with { Metadata = record.Metadata with { ModelId = "m-2" } };
        await Assert.ThrowsAsync<IndexModelMismatchException>(() => index.UpsertAsync(foreign));
        Assert.Equal(0, await index.CountAsync());
    }

    [Fact]
    public async Task A_corrupt_index_json_fails_the_open_as_a_non_retriable_VectorIndexException_and_frees_the_directory()
    {
        using (var index = await OpenAsync()) await index.UpsertAsync(Record("a", Basis(0), "x"));
        await File.WriteAllTextAsync(Path.Combine(_dir.Path, "index.json"), "{ \"format\": 1, \"modelId\": ");

        using var broken = Create();
        var ex = await Assert.ThrowsAsync<VectorIndexException>(() => broken.InitializeAsync(Schema));

        Assert.Equal(("local", _dir.Path, "open", false), (ex.Backend, ex.IndexName, ex.Operation, ex.Retriable));
        Assert.IsType<System.Text.Json.JsonException>(ex.InnerException);
        Assert.Contains(_dir.Path, ex.Message, StringComparison.Ordinal);
        Assert.Empty(ex.FailedIds);
        // The failed open let go of the lock: a repaired directory opens in another instance.
        await File.WriteAllTextAsync(Path.Combine(_dir.Path, "index.json"), "{\"format\":1,\"modelId\":\"m-1\",\"dimension\":4}");
        using var repaired = await OpenAsync();
        Assert.Equal(1, await repaired.CountAsync());
    }

    [Fact]
    public async Task A_path_that_is_a_file_fails_the_open_as_an_IO_VectorIndexException()
    {
        var file = Path.Combine(_dir.Path, "not-a-directory");
        await File.WriteAllTextAsync(file, "x");
        using var index = new LocalVectorIndex(Options.Create(new LocalIndexOptions { Path = file }), NullLogger<LocalVectorIndex>.Instance);

        var ex = await Assert.ThrowsAsync<VectorIndexException>(() => index.InitializeAsync(Schema));

        Assert.Equal(("local", file, "open", false), (ex.Backend, ex.IndexName, ex.Operation, ex.Retriable));
        Assert.IsAssignableFrom<IOException>(ex.InnerException);
    }

    [Fact]
    public async Task Calls_before_initialize_fail_clearly()
    {
        using var index = Create();
        await Assert.ThrowsAsync<InvalidOperationException>(() => index.CountAsync());
    }

    private LocalVectorIndex Create(bool flushToDisk = true) =>
        new(Options.Create(new LocalIndexOptions { Path = _dir.Path, FlushToDisk = flushToDisk }), NullLogger<LocalVectorIndex>.Instance);

    private async Task<LocalVectorIndex> OpenAsync(bool flushToDisk = true)
    {
        var index = Create(flushToDisk);
        await index.InitializeAsync(Schema);
        return index;
    }

    private static float[] Basis(int axis)
    {
        var v = new float[4];
        v[axis] = 1;
        return v;
    }

    private static VectorRecord Record(string id, float[] vector, string album) => new(id, vector, new ItemMetadata
    {
        Source = "file",
        Name = id + ".png",
        ContentHash = "hash-" + id,
        ContentType = "image/png",
        ModelId = Schema.ModelId,
        UploadedAt = new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.FromHours(2)),
        Tags = new Dictionary<string, string> { ["album"] = album },
    });
}
