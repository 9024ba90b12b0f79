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

    [Fact]
    public void A_copy_space_doubles_the_vectors_per_item_and_detail_regions_add_their_own()
    {
        var alone = AzureSearchSizing.Estimate(1000)[2];
        var copies = AzureSearchSizing.Estimate(1000, copyRegions: 0)[2];
        var regions = AzureSearchSizing.Estimate(1000, copyRegions: 59)[2];

        Assert.Null(alone.Copy);
        Assert.Equal(alone.TotalVectorBytes, alone.VectorBytes);
        // The category space is unchanged; the copy space holds every item again, the same bytes without regions.
        Assert.Equal(alone.VectorBytesPerItem, copies.VectorBytesPerItem, 0.01);
        Assert.Equal(1, copies.Copy!.VectorsPerItem);
        Assert.Equal(alone.VectorBytesPerItem, copies.Copy.VectorBytesPerItem, 0.01);
        Assert.Equal(alone.StorageBytesPerItem, copies.Copy.StorageBytesPerItem, 0.01);
        Assert.Equal(2 * alone.VectorBytes, copies.TotalVectorBytes);
        Assert.Equal(2 * alone.StorageBytes, copies.TotalStorageBytes);
        // R detail regions: 1 + R vectors in the copy space, each with its own document.
        Assert.Equal(60, regions.Copy!.VectorsPerItem);
        Assert.Equal(60 * alone.VectorBytesPerItem, regions.Copy.VectorBytesPerItem, 0.01);
        Assert.Equal(alone.StorageBytesPerItem + 59 * (alone.VectorBytesPerItem + 2048 + AzureSearchSizing.RegionDocumentBytes), regions.Copy.StorageBytesPerItem, 0.01);
        Assert.Equal(alone.VectorBytes + regions.Copy.VectorBytes, regions.TotalVectorBytes);
        // A copy space of another dimension.
        Assert.Equal(128, AzureSearchSizing.Estimate(1000, copyRegions: 0, copyDimension: 128)[2].Copy!.Dimension);
        Assert.Throws<ArgumentOutOfRangeException>(() => AzureSearchSizing.Estimate(1000, copyRegions: -1));
    }

    [Fact]
    public void The_tiers_are_fitted_to_both_spaces()
    {
        // 2M photos, int8 without originals: 10.1 GB of disk fits one Basic partition (15 GB); the copy space doubles it
        // to 20.2 GB, two partitions; a reindex holds two versions of both (40.4 GB), three.
        var alone = AzureSearchSizing.Estimate(2_000_000)[2];
        var copies = AzureSearchSizing.Estimate(2_000_000, copyRegions: 0)[2];
        Assert.Equal(("Basic", 1), (alone.Cheapest!.Tier.Name, alone.Cheapest.Partitions!.Value));
        Assert.Equal(("Basic", 2), (copies.Cheapest!.Tier.Name, copies.Cheapest.Partitions!.Value));
        Assert.Equal(("Basic", 2), (alone.CheapestForReindex!.Tier.Name, alone.CheapestForReindex.Partitions!.Value));
        Assert.Equal(("Basic", 3), (copies.CheapestForReindex!.Tier.Name, copies.CheapestForReindex.Partitions!.Value));

        // 1M photos with 59 detail regions each (the measured 58.6 at 448): 36.8 GB of vectors, past Basic's 15 GB;
        // two S1 partitions (or one S2, the same price), and three S1 partitions during a reindex.
        var regions = AzureSearchSizing.Estimate(1_000_000, copyRegions: 59)[2];
        Assert.Equal(36.8, regions.TotalVectorBytes / (double)AzureSearchSizing.GB, 0.1);
        Assert.Null(regions.Tiers.Single(t => t.Tier.Name == "Basic").Partitions);
        Assert.Equal(245.28 * 2 * 2, regions.Cheapest!.MonthlyPrice!.Value, 0.01);
        Assert.Equal(("S1", 3), (regions.CheapestForReindex!.Tier.Name, regions.CheapestForReindex.Partitions!.Value));
    }

    [Fact]
    public async Task The_command_prints_both_spaces_and_refuses_bad_copy_values()
    {
        using var text = new StringWriter();
        Assert.Equal(0, await SizingCommand.RunAsync(CliArgs.Parse(["--items", "1000000", "--copy-regions", "59"], "json", "legacy-quotas", "copy-space"), text, CancellationToken.None));
        Assert.Contains("two indexes on one service", text.ToString(), StringComparison.Ordinal);
        Assert.Contains("59 detail region vector(s)", text.ToString(), StringComparison.Ordinal);
        Assert.Contains("copies", text.ToString(), StringComparison.Ordinal);

        using var json = new StringWriter();
        Assert.Equal(0, await SizingCommand.RunAsync(CliArgs.Parse(["--items", "100000", "--copy-space", "--copy-regions", "0", "--json"], "json", "legacy-quotas", "copy-space"), json, CancellationToken.None));
        using var document = JsonDocument.Parse(json.ToString());
        Assert.Equal(0, document.RootElement.GetProperty("copyRegions").GetInt32());
        var layout = document.RootElement.GetProperty("layouts")[2];
        Assert.Equal(1, layout.GetProperty("copySpace").GetProperty("vectorsPerItem").GetInt32());
        Assert.Equal(2 * layout.GetProperty("VectorBytes").GetInt64(), layout.GetProperty("totalVectorBytes").GetInt64());

        // Without copy options: the product's default, the copy space with its detail regions (59 per item).
        using var byDefault = new StringWriter();
        Assert.Equal(0, await SizingCommand.RunAsync(CliArgs.Parse(["--items", "100000", "--json"], "json", "legacy-quotas", "copy-space", "no-copy-space"), byDefault, CancellationToken.None));
        using (var defaults = JsonDocument.Parse(byDefault.ToString()))
        {
            Assert.Equal(SizingCommand.DefaultCopyRegions, defaults.RootElement.GetProperty("copyRegions").GetInt32());
            Assert.Equal(1 + SizingCommand.DefaultCopyRegions, defaults.RootElement.GetProperty("layouts")[2].GetProperty("copySpace").GetProperty("vectorsPerItem").GetInt32());
        }

        // With --no-copy-space (Encoder__CopyDescriptor=None) the JSON has none of its fields.
        using var plain = new StringWriter();
        Assert.Equal(0, await SizingCommand.RunAsync(CliArgs.Parse(["--items", "100000", "--no-copy-space", "--json"], "json", "legacy-quotas", "copy-space", "no-copy-space"), plain, CancellationToken.None));
        Assert.DoesNotContain("copy", plain.ToString(), StringComparison.OrdinalIgnoreCase);
        await Assert.ThrowsAsync<UsageException>(() => SizingCommand.RunAsync(
            CliArgs.Parse(["--items", "1000", "--no-copy-space", "--copy-regions", "3"], "json", "copy-space", "no-copy-space"), TextWriter.Null, CancellationToken.None));

        foreach (var bad in new[] { "-1", "1001", "x" })
        {
            var e = await Assert.ThrowsAsync<UsageException>(() => SizingCommand.RunAsync(
                CliArgs.Parse(["--items", "1000", "--copy-regions", bad], "json", "copy-space"), TextWriter.Null, CancellationToken.None));
            Assert.Contains("--copy-regions", e.Message, StringComparison.Ordinal);
        }

        await Assert.ThrowsAsync<UsageException>(() => SizingCommand.RunAsync(
            CliArgs.Parse(["--items", "1000", "--copy-dimension", "1"], "json", "copy-space"), TextWriter.Null, CancellationToken.None));
    }
}
