using VisualSearch.Index.AzureSearch.Tests.Fake;
using VisualSearch.Indexing;
using static VisualSearch.Index.AzureSearch.Tests.AzureSearchBackendTests;

namespace VisualSearch.Index.AzureSearch.Tests;

/// <summary>
/// The model-version lifecycle on Azure AI Search: one index per model, the pointer document in
/// &lt;base&gt;-meta, a reindex beside the serving index, an atomic switch, and a loud refusal of a model mismatch.
/// </summary>
public sealed class AzureSearchLifecycleTests
{
    private static readonly IndexSchema Old = new("resnet18-aaaaaaaaaaaa-4", 4);
    private static readonly IndexSchema New = new("resnet18-bbbbbbbbbbbb-4", 4);
    private readonly FakeSearchService _service = new();

    [Fact]
    public async Task A_fresh_service_gets_an_index_for_the_model_and_a_pointer_to_it()
    {
        var index = new VersionedVectorIndex(_service.Catalog("images"));
        await index.InitializeAsync(Old);

        Assert.Equal("images-resnet18-aaaaaaaaaaaa-4-sq8-ns", index.Version?.Name);
        var pointer = _service.Documents("images-meta")["current"];
        Assert.Equal(Old.ModelId, (string)pointer["modelId"]!);
        Assert.Equal("images-resnet18-aaaaaaaaaaaa-4-sq8-ns", (string)pointer["indexName"]!);
        Assert.Equal(4, (int)pointer["dimension"]!);
        Assert.Equal(["images-meta", "images-resnet18-aaaaaaaaaaaa-4-sq8-ns"], _service.IndexNames.Order(StringComparer.Ordinal));
        Assert.Empty(_service.Violations);
    }

    [Fact]
    public async Task A_reindex_builds_beside_the_serving_index_and_the_switch_changes_what_new_opens_see()
    {
        var serving = new VersionedVectorIndex(_service.Catalog("images"));
        await serving.InitializeAsync(Old);
        await serving.UpsertAsync(Record("a", [1, 0, 0, 0], modelId: Old.ModelId));
        await serving.UpsertAsync(Record("b", [0, 1, 0, 0], modelId: Old.ModelId));

        var build = new VersionedVectorIndex(_service.Catalog("images"), followCurrent: false);
        await build.InitializeAsync(New);
        Assert.Equal("images-resnet18-bbbbbbbbbbbb-4-sq8-ns", build.Version?.Name);
        foreach (var record in new[] { Record("a", [0, 1, 0, 0], modelId: New.ModelId), Record("b", [1, 0, 0, 0], modelId: New.ModelId), Record("c", [0, 0, 1, 0], modelId: New.ModelId) })
            await build.UpsertAsync(record);

        // During the reindex the pointer is unchanged and queries answer from the old index.
        Assert.Equal(Old.ModelId, (await _service.Catalog("images").GetCurrentAsync())?.ModelId);
        Assert.Equal("a", (await serving.SearchAsync(new float[] { 1, 0, 0, 0 }, new VectorQuery(1)))[0].Id);

        await _service.Catalog("images").SwitchToAsync(New);

        // The open host keeps its model's index; nothing mixes.
        Assert.Equal(2, await serving.CountAsync());
        Assert.Equal(Old.ModelId, (await serving.GetAsync("a"))?.Metadata.ModelId);

        var next = new VersionedVectorIndex(_service.Catalog("images"));
        await next.InitializeAsync(New);
        Assert.Equal(3, await next.CountAsync());
        Assert.Equal("b", (await next.SearchAsync(new float[] { 1, 0, 0, 0 }, new VectorQuery(1)))[0].Id);

        var stale = new VersionedVectorIndex(_service.Catalog("images"));
        var ex = await Assert.ThrowsAsync<IndexModelMismatchException>(() => stale.InitializeAsync(Old));
        Assert.Equal(New.ModelId, ex.IndexModelId);
        Assert.Equal(Old.ModelId, ex.ConfiguredModelId);
        Assert.Contains("vsearch reindex", ex.Message, StringComparison.Ordinal);
        Assert.Contains("images-resnet18-bbbbbbbbbbbb-4-sq8-ns", ex.Message, StringComparison.Ordinal);
        Assert.Contains("images-meta", ex.Message, StringComparison.Ordinal);
        Assert.Empty(_service.Violations);
    }

    [Fact]
    public async Task A_host_started_with_the_new_model_before_the_switch_opens_once_the_pointer_moves()
    {
        await new VersionedVectorIndex(_service.Catalog("images")).InitializeAsync(Old);
        var build = new VersionedVectorIndex(_service.Catalog("images"), followCurrent: false);
        await build.InitializeAsync(New);
        await build.UpsertAsync(Record("a", [1, 0, 0, 0], modelId: New.ModelId));

        var early = new VersionedVectorIndex(_service.Catalog("images"));
        await Assert.ThrowsAsync<IndexModelMismatchException>(() => early.InitializeAsync(New));
        await _service.Catalog("images").SwitchToAsync(New);
        await early.InitializeAsync(New);

        Assert.Equal(New.ModelId, (await early.GetAsync("a"))?.Metadata.ModelId);
    }

    [Fact]
    public async Task Versions_are_listed_and_only_old_ones_can_be_deleted()
    {
        var catalog = _service.Catalog("images");
        await new VersionedVectorIndex(catalog).InitializeAsync(Old);
        await new VersionedVectorIndex(catalog, followCurrent: false).InitializeAsync(New);
        await catalog.SwitchToAsync(New);

        Assert.Equal(["images-resnet18-aaaaaaaaaaaa-4-sq8-ns", "images-resnet18-bbbbbbbbbbbb-4-sq8-ns"], await catalog.ListVersionsAsync());
        await Assert.ThrowsAsync<InvalidOperationException>(() => catalog.DeleteVersionAsync("images-resnet18-bbbbbbbbbbbb-4-sq8-ns"));
        await Assert.ThrowsAsync<ArgumentException>(() => catalog.DeleteVersionAsync("images-meta"));
        await catalog.DeleteVersionAsync("images-resnet18-aaaaaaaaaaaa-4-sq8-ns");
        Assert.Equal(["images-resnet18-bbbbbbbbbbbb-4-sq8-ns"], await catalog.ListVersionsAsync());
        await Assert.ThrowsAsync<InvalidOperationException>(() => catalog.SwitchToAsync(Old));
    }

    [Theory]
    [InlineData("resnet18-1a2b3c4d5e6f-512", AzureSearchVectorCompression.None, true, "images-resnet18-1a2b3c4d5e6f-512")]
    [InlineData("resnet18-1a2b3c4d5e6f-512", AzureSearchVectorCompression.ScalarInt8, false, "images-resnet18-1a2b3c4d5e6f-512-sq8-ns")]
    [InlineData("resnet18-1a2b3c4d5e6f-512", AzureSearchVectorCompression.ScalarInt8, true, "images-resnet18-1a2b3c4d5e6f-512-sq8")]
    [InlineData("resnet18-1a2b3c4d5e6f-512", AzureSearchVectorCompression.None, false, "images-resnet18-1a2b3c4d5e6f-512-ns")]
    [InlineData("resnet18-1a2b3c4d5e6f-512-head-9f8e7d6c-128", AzureSearchVectorCompression.None, true, "images-resnet18-1a2b3c4d5e6f-512-head-9f8e7d6c-128")]
    public void Version_names_are_the_base_the_model_id_and_the_vector_storage(string modelId, AzureSearchVectorCompression compression, bool store, string expected) =>
        Assert.Equal(expected, _service.Catalog("images", o => { o.VectorCompression = compression; o.StoreOriginalVectors = store; }).VersionName(modelId));

    [Theory]
    [InlineData("my_model-1a2b3c4d5e6f-512")]
    [InlineData("meta")]
    [InlineData("a-very-long-model-name-that-goes-on-and-on-1a2b3c4d5e6f-512-head-9f8e7d6c-128")]
    public void Model_ids_that_are_not_index_names_get_a_hashed_safe_name(string modelId)
    {
        var catalog = _service.Catalog("images", o => o.IndexName = new string('i', 60));
        var name = catalog.VersionName(modelId);
        Assert.Matches("^i{60}-[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9]))*-sq8-ns$", name);
        Assert.True(name.Length <= 128);
        Assert.NotEqual(catalog.MetaIndexName, name);
        Assert.NotEqual(name, catalog.VersionName(modelId + "x"));
    }
}
