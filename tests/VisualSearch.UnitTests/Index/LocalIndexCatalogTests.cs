using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;

namespace VisualSearch.UnitTests.Index;

/// <summary>
/// The model-version lifecycle of the embedded index: one directory per model, a CURRENT pointer switched
/// atomically, migration of the flat layout, and a reindex that runs beside a serving host.
/// </summary>
public sealed class LocalIndexCatalogTests : IDisposable
{
    private static readonly IndexSchema Old = new("m-old", 4);
    private static readonly IndexSchema New = new("m-new", 4);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_fresh_root_gets_a_version_directory_and_a_pointer_to_it()
    {
        using (var index = Versioned())
        {
            await index.InitializeAsync(Old);
            await index.UpsertAsync(Record("a", Old, 0));
            Assert.Equal(Path.Combine(_dir.Path, "m-old"), Catalog().VersionDirectory(index.Version!.Name));
        }

        Assert.Equal("m-old\n", await File.ReadAllTextAsync(Path.Combine(_dir.Path, "CURRENT")));
        Assert.True(File.Exists(Path.Combine(_dir.Path, "m-old", "index.json")));
        Assert.True(File.Exists(Path.Combine(_dir.Path, "m-old", "records.log")));
        Assert.False(File.Exists(Path.Combine(_dir.Path, "index.json")));
        Assert.Equal(["m-old"], Catalog().ListVersions());
    }

    [Fact]
    public async Task The_flat_layout_of_earlier_releases_is_moved_into_its_version_directory()
    {
        using (var flat = new LocalVectorIndex(Options.Create(new LocalIndexOptions { Path = _dir.Path }), NullLogger<LocalVectorIndex>.Instance))
        {
            await flat.InitializeAsync(Old);
            await flat.UpsertAsync(Record("a", Old, 0));
            await flat.UpsertAsync(Record("b", Old, 1));
        }

        Assert.True(File.Exists(Path.Combine(_dir.Path, "records.log")));

        using (var index = Versioned())
        {
            await index.InitializeAsync(Old);
            Assert.Equal(2, await index.CountAsync());
            Assert.Equal("b", (await index.GetAsync("b"))?.Id);
        }

        Assert.Equal("m-old", Catalog().ReadCurrent());
        Assert.False(File.Exists(Path.Combine(_dir.Path, "index.json")));
        Assert.False(File.Exists(Path.Combine(_dir.Path, "records.log")));
        Assert.False(File.Exists(Path.Combine(_dir.Path, "LOCK")));
        Assert.True(File.Exists(Path.Combine(_dir.Path, "m-old", "records.log")));
    }

    [Fact]
    public async Task A_migration_interrupted_after_the_pointer_was_written_finishes_on_the_next_open()
    {
        using (var flat = new LocalVectorIndex(Options.Create(new LocalIndexOptions { Path = _dir.Path }), NullLogger<LocalVectorIndex>.Instance))
        {
            await flat.InitializeAsync(Old);
            await flat.UpsertAsync(Record("a", Old, 0));
        }

        // Simulate a crash after the log moved and the pointer was written, before the old index.json was removed.
        var meta = await File.ReadAllBytesAsync(Path.Combine(_dir.Path, "index.json"));
        Assert.Equal("m-old", Catalog().ReadCurrent());
        await File.WriteAllBytesAsync(Path.Combine(_dir.Path, "index.json"), meta);

        using var index = Versioned();
        await index.InitializeAsync(Old);
        Assert.Equal(1, await index.CountAsync());
        Assert.False(File.Exists(Path.Combine(_dir.Path, "index.json")));
    }

    [Fact]
    public async Task Starting_with_another_model_than_the_current_one_fails_with_the_fix_in_the_message()
    {
        using (var index = Versioned())
        {
            await index.InitializeAsync(Old);
            await index.UpsertAsync(Record("a", Old, 0));
        }

        using var other = Versioned();
        var ex = await Assert.ThrowsAsync<IndexModelMismatchException>(() => other.InitializeAsync(New));

        Assert.Equal("m-old", ex.IndexModelId);
        Assert.Equal("m-new", ex.ConfiguredModelId);
        Assert.Contains("vsearch reindex", ex.Message, StringComparison.Ordinal);
        Assert.Contains(_dir.Path, ex.Message, StringComparison.Ordinal);
        Assert.False(Catalog().VersionExists("m-new"));
    }

    [Fact]
    public async Task A_reindex_builds_beside_the_serving_index_and_the_switch_changes_what_new_opens_see()
    {
        // A host serving the old model.
        using var serving = Versioned();
        await serving.InitializeAsync(Old);
        await serving.UpsertAsync(Record("a", Old, 0));
        await serving.UpsertAsync(Record("b", Old, 1));

        // The reindex opens the new model's version whatever the pointer says; the old one stays locked and in use.
        using (var build = Versioned(followCurrent: false))
        {
            await build.InitializeAsync(New);
            await build.UpsertAsync(Record("a", New, 1));
            await build.UpsertAsync(Record("b", New, 0));
            await build.UpsertAsync(Record("c", New, 2));

            // Queries during the reindex answer from the old index.
            Assert.Equal(["a", "b"], (await serving.SearchAsync(Basis(0), new VectorQuery(10, MinScore: 0))).Select(h => h.Id));
            Assert.Equal("m-old", Catalog().ReadCurrent());
        }

        Catalog().SwitchTo(New.ModelId);

        // The open host keeps its model's index (its query vectors are of that model); nothing mixes.
        Assert.Equal(2, await serving.CountAsync());
        Assert.Equal("m-old", (await serving.GetAsync("a"))?.Metadata.ModelId);

        // A host started with the new model opens the new index; one with the old model is refused.
        using (var next = Versioned())
        {
            await next.InitializeAsync(New);
            Assert.Equal(3, await next.CountAsync());
            Assert.Equal("b", (await next.SearchAsync(Basis(0), new VectorQuery(1)))[0].Id);
        }

        using var stale = Versioned();
        var ex = await Assert.ThrowsAsync<IndexModelMismatchException>(() => stale.InitializeAsync(Old));
        Assert.Equal("m-new", ex.IndexModelId);
        Assert.Equal(["m-new", "m-old"], Catalog().ListVersions());
    }

    [Fact]
    public async Task A_host_started_with_the_new_model_before_the_switch_opens_once_the_pointer_moves()
    {
        using (var old = Versioned())
        {
            await old.InitializeAsync(Old);
            await old.UpsertAsync(Record("a", Old, 0));
        }

        using (var build = Versioned(followCurrent: false))
        {
            await build.InitializeAsync(New);
            await build.UpsertAsync(Record("a", New, 0));
        }

        using var early = Versioned();
        await Assert.ThrowsAsync<IndexModelMismatchException>(() => early.InitializeAsync(New));
        Catalog().SwitchTo(New.ModelId);
        await early.InitializeAsync(New);
        Assert.Equal("m-new", (await early.GetAsync("a"))?.Metadata.ModelId);
    }

    [Fact]
    public async Task Deleting_a_version_refuses_the_current_one_and_one_in_use()
    {
        using (var old = Versioned())
        {
            await old.InitializeAsync(Old);
        }

        using (var build = Versioned(followCurrent: false))
        {
            await build.InitializeAsync(New);
            await build.UpsertAsync(Record("a", New, 0));
            var inUse = Assert.Throws<IOException>(() => Catalog().DeleteVersion(New.ModelId));
            Assert.Contains("in use", inUse.Message, StringComparison.Ordinal);
        }

        Assert.Throws<InvalidOperationException>(() => Catalog().DeleteVersion(Old.ModelId));
        Catalog().DeleteVersion(New.ModelId);
        Assert.Equal(["m-old"], Catalog().ListVersions());
        Assert.Throws<InvalidOperationException>(() => Catalog().SwitchTo(New.ModelId));
        Assert.Throws<ArgumentException>(() => Catalog().VersionDirectory("../etc"));
    }

    [Fact]
    public async Task A_pointer_that_names_no_model_fails_clearly()
    {
        Directory.CreateDirectory(_dir.Path);
        await File.WriteAllTextAsync(Path.Combine(_dir.Path, "CURRENT"), "../../etc\n");

        using var index = Versioned();
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => index.InitializeAsync(Old));
        Assert.Contains("CURRENT", ex.Message, StringComparison.Ordinal);
    }

    private LocalIndexCatalog Catalog() =>
        new(Options.Create(new LocalIndexOptions { Path = _dir.Path, FlushToDisk = false }), NullLoggerFactory.Instance);

    private VersionedVectorIndex Versioned(bool followCurrent = true) => new(Catalog(), followCurrent);

    private static float[] Basis(int axis)
    {
        var v = new float[4];
        v[axis] = 1;
        return v;
    }

    private static VectorRecord Record(string id, IndexSchema schema, int axis) => new(id, Basis(axis), new ItemMetadata
    {
        Source = "file",
        Name = id + ".png",
        ContentHash = "hash-" + id,
        ContentType = "image/png",
        ModelId = schema.ModelId,
        UploadedAt = new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.Zero),
    });
}
