using System.Text.Json;
using VisualSearch.Cli;

namespace VisualSearch.Index.AzureSearch.Tests;

/// <summary>The sizing estimate behind <c>vsearch sizing</c> and the table in docs/deploy.md.</summary>
public sealed class SizingTests
{
    [Fact]
    public void Bytes_per_item_are_the_indexed_vector_and_the_HNSW_links_with_the_deleted_document_allowance()
    {
        var layouts = AzureSearchSizing.Estimate(1_000_000);

        // m = 4: 2m links below, m/(m-1) above, 4 bytes each.
        Assert.Equal(4 * (8 + 4 / 3.0), AzureSearchSizing.HnswBytesPerVector(4), 1e-9);
        var float32 = layouts.Single(l => l.Layout == new VectorLayout(AzureSearchVectorCompression.None, true));
        var int8 = layouts.Single(l => l.Layout == new VectorLayout(AzureSearchVectorCompression.ScalarInt8, false));
        Assert.Equal((2048 + 37.333) * 1.1, float32.VectorBytesPerItem, 0.01);
        Assert.Equal((512 + 37.333) * 1.1, int8.VectorBytesPerItem, 0.01);
        // Disk: float32 = vector index + retrievable copy + metadata; int8 without originals = vector index + originals
        // kept for re-scoring + the float16 copy (1,372 characters) + metadata.
        Assert.Equal(float32.VectorBytesPerItem + 2048 + 1024, float32.StorageBytesPerItem, 0.01);
        Assert.Equal(int8.VectorBytesPerItem + 2048 + 1372 + 1024, int8.StorageBytesPerItem, 0.01);
    }

    [Fact]
    public void Regions_add_vectors_and_their_documents()
    {
        var one = AzureSearchSizing.Estimate(1000, regions: 0)[2];
        var four = AzureSearchSizing.Estimate(1000, regions: 3)[2];

        Assert.Equal(4 * one.VectorBytesPerItem, four.VectorBytesPerItem, 0.01);
        Assert.Equal(one.StorageBytesPerItem + 3 * (one.VectorBytesPerItem + 2048 + AzureSearchSizing.RegionDocumentBytes), four.StorageBytesPerItem, 0.01);
    }

    [Fact]
    public void On_a_service_with_the_older_quotas_compression_saves_partitions()
    {
        var layouts = AzureSearchSizing.Estimate(10_000_000, legacyQuotas: true);
        var float32 = layouts[0];
        var int8 = layouts[2];

        // 22.9 GB of float32 vectors: S1 would need 12 partitions of 3 GB; S2 holds it in 2 of 12 GB.
        Assert.Equal(12, float32.Tiers.Single(t => t.Tier.Name == "S1").Partitions);
        Assert.Equal(3924.48, float32.Cheapest!.MonthlyPrice!.Value, 0.01);
        // 6 GB of int8 vectors in 2 S1 partitions, but 50 GB of disk needs 3.
        Assert.Equal("S1", int8.Cheapest!.Tier.Name);
        Assert.Equal(3, int8.Cheapest.Partitions);
        Assert.Equal(245.28 * 3 * 2, int8.Cheapest.MonthlyPrice!.Value, 0.01);
    }

    [Fact]
    public void A_tier_whose_replica_or_search_unit_limit_is_passed_does_not_fit()
    {
        var layout = AzureSearchSizing.Estimate(1000, replicas: 4)[2];

        Assert.Null(layout.Tiers.Single(t => t.Tier.Name == "Basic").Partitions);
        Assert.Equal("S1", layout.Cheapest!.Tier.Name);
    }

    [Fact]
    public async Task The_command_prints_the_table_and_json()
    {
        using var text = new StringWriter();
        Assert.Equal(0, await SizingCommand.RunAsync(CliArgs.Parse(["--items", "10000000"], "json", "legacy-quotas"), text, CancellationToken.None));
        Assert.Contains("Azure AI Search for 10,000,000 photos", text.ToString(), StringComparison.Ordinal);
        Assert.Contains("int8, no retrievable originals", text.ToString(), StringComparison.Ordinal);
        Assert.Contains("re-check", text.ToString(), StringComparison.Ordinal);

        using var json = new StringWriter();
        Assert.Equal(0, await SizingCommand.RunAsync(CliArgs.Parse(["--items", "100000", "--regions", "2", "--json"], "json", "legacy-quotas"), json, CancellationToken.None));
        using var document = JsonDocument.Parse(json.ToString());
        Assert.Equal(2, document.RootElement.GetProperty("regions").GetInt32());
        Assert.Equal(3, document.RootElement.GetProperty("layouts").GetArrayLength());

        await Assert.ThrowsAsync<UsageException>(() => SizingCommand.RunAsync(CliArgs.Parse(["--regions", "2"], "json"), TextWriter.Null, CancellationToken.None));
    }
}
