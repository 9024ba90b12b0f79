using System.Globalization;
using System.Text.Json;
using VisualSearch.Index.AzureSearch;

namespace VisualSearch.Cli;

/// <summary>
/// <c>vsearch sizing --items N [--regions R] [--dimension D] [--replicas N] [--hnsw-m M] [--legacy-quotas] [--copy-space | --no-copy-space] [--copy-regions R] [--copy-dimension D] [--json]</c>: the Azure AI Search
/// tier, partitions and monthly list price that hold N photos, for each vector storage the backend can create
/// (<see cref="AzureSearchSizing"/>; the same estimate as the table in docs/deploy.md). <c>--legacy-quotas</c>: a service
/// created before the 2024 capacity increase. The copy space (<c>Encoder__CopyDescriptor=FeatureMap</c>, the default) is
/// a second index on the same service holding every item again, one vector plus <c>--copy-regions</c> detail-region vectors
/// each (default <see cref="DefaultCopyRegions"/>, what <c>Encoder__DetailRegionSide=448</c>, the default, stores; 0 without
/// detail regions); the tiers then hold both indexes. <c>--no-copy-space</c>: one index (<c>Encoder__CopyDescriptor=None</c>).
/// Offline: nothing is contacted.
/// </summary>
public static class SizingCommand
{
    public const string Usage = "Usage: vsearch sizing --items N [--regions R] [--dimension D] [--replicas N] [--hnsw-m M] [--legacy-quotas] [--copy-space | --no-copy-space] [--copy-regions R] [--copy-dimension D] [--json]";

    /// <summary>
    /// Detail-region vectors per item in the default copy space: 58.6 measured on the dev set's 417 photos at
    /// <c>Encoder__DetailRegionSide=448</c> (docs/quality.md 7e), rounded up; at most <c>Encoder__DetailRegionLimit</c> (60).
    /// </summary>
    public const int DefaultCopyRegions = 59;

    public static async Task<int> RunAsync(CliArgs args, TextWriter stdout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        args.RejectUnknown("items", "regions", "dimension", "replicas", "hnsw-m", "legacy-quotas", "copy-space", "no-copy-space", "copy-regions", "copy-dimension", "json");
        if (args.Positionals.Count > 0 || !args.Has("items")) throw new UsageException(Usage);
        var items = args.GetInt("items", 0, 1, int.MaxValue);
        var regions = args.GetInt("regions", 0, 0, 64);
        var dimension = args.GetInt("dimension", 512, 2, 4096);
        var replicas = args.GetInt("replicas", 2, 1, 12);
        var m = args.GetInt("hnsw-m", 4, 4, 10);
        var legacy = args.Has("legacy-quotas");
        // The copy space is the product's default (Encoder__CopyDescriptor=FeatureMap with detail regions at 448); --no-copy-space is one vector per item.
        if (args.Has("no-copy-space") && (args.Has("copy-space") || args.Has("copy-regions") || args.Has("copy-dimension")))
            throw new UsageException("--no-copy-space cannot be combined with --copy-space, --copy-regions or --copy-dimension.");
        int? copyRegions = args.Has("no-copy-space") ? null : args.GetInt("copy-regions", DefaultCopyRegions, 0, 1000);
        var copyDimension = args.GetInt("copy-dimension", dimension, 2, 4096);
        var layouts = AzureSearchSizing.Estimate(items, regions, dimension, replicas, m, legacy, copyRegions, copyDimension);
        cancellationToken.ThrowIfCancellationRequested();

        if (args.Has("json"))
        {
            var json = new
            {
                items, regions, dimension, replicas, hnswM = m, quotas = legacy ? "before-2024" : "2024", priceList = AzureSearchSizing.PriceListDate,
                layouts = layouts.Select(l => new
                {
                    compression = l.Layout.Compression.ToString(), storeOriginalVectors = l.Layout.StoreOriginals,
                    vectorBytesPerItem = Math.Round(l.VectorBytesPerItem), storageBytesPerItem = Math.Round(l.StorageBytesPerItem),
                    l.VectorBytes, l.StorageBytes,
                    tiers = l.Tiers.Select(t => new { tier = t.Tier.Name, t.Partitions, t.Replicas, monthlyPrice = t.MonthlyPrice }),
                    cheapest = l.Cheapest?.Tier.Name, cheapestPartitions = l.Cheapest?.Partitions, cheapestMonthlyPrice = l.Cheapest?.MonthlyPrice,
                    reindex = l.CheapestForReindex?.Tier.Name, reindexPartitions = l.CheapestForReindex?.Partitions, reindexMonthlyPrice = l.CheapestForReindex?.MonthlyPrice,
                }),
            };
            var node = JsonSerializer.SerializeToNode(json)!.AsObject();
            if (copyRegions is not null)
            {
                // Added only with a copy space, so the output without one stays as it was. The tiers above hold both spaces.
                node["copyRegions"] = copyRegions;
                node["copyDimension"] = copyDimension;
                var nodes = node["layouts"]!.AsArray();
                for (var i = 0; i < layouts.Count; i++)
                {
                    var (l, copy) = (layouts[i], layouts[i].Copy!);
                    nodes[i]!["copySpace"] = JsonSerializer.SerializeToNode(new
                    {
                        vectorsPerItem = copy.VectorsPerItem, dimension = copy.Dimension,
                        vectorBytesPerItem = Math.Round(copy.VectorBytesPerItem), storageBytesPerItem = Math.Round(copy.StorageBytesPerItem),
                        vectorBytes = copy.VectorBytes, storageBytes = copy.StorageBytes,
                    });
                    nodes[i]!["totalVectorBytes"] = l.TotalVectorBytes;
                    nodes[i]!["totalStorageBytes"] = l.TotalStorageBytes;
                }
            }

            await stdout.WriteLineAsync(node.ToJsonString(new JsonSerializerOptions { WriteIndented = true })).ConfigureAwait(false);
            return 0;
        }

        var c = CultureInfo.InvariantCulture;
        await stdout.WriteLineAsync(copyRegions is null
            ? string.Create(c, $"Azure AI Search for {items:N0} photos: {dimension}-d vectors, {regions} region vector(s) per photo, HNSW m={m}, {replicas} replica(s).")
            : string.Create(c, $"Azure AI Search for {items:N0} photos in two indexes on one service, HNSW m={m}, {replicas} replica(s): the category space " +
              $"({dimension}-d vectors, {regions} region vector(s) per photo) and the copy space ({copyDimension}-d vectors, {copyRegions} detail region vector(s) per photo; the default, Encoder__CopyDescriptor=FeatureMap: --no-copy-space for one index).")).ConfigureAwait(false);
        await stdout.WriteLineAsync(
            $"Quotas: services created {(legacy ? "before" : "after")} the 2024 capacity increase. Prices: USD per month, East US pay-as-you-go list prices, {AzureSearchSizing.PriceListDate}: " +
            "re-check at https://azure.microsoft.com/pricing/details/search/.").ConfigureAwait(false);
        await stdout.WriteLineAsync().ConfigureAwait(false);
        await stdout.WriteLineAsync(copyRegions is null
            ? $"{"vector storage",-34} {"vector/item",11} {"disk/item",10} {"vectors",9} {"disk",9}  {"cheapest",-24} {"during a reindex (2 versions)",-24}"
            : $"{"vector storage",-34} {"space",-8} {"vectors/item",12} {"vector/item",11} {"disk/item",10} {"vectors",9} {"disk",9}  {"cheapest (both)",-24} {"during a reindex (2 versions of both)",-24}").ConfigureAwait(false);
        foreach (var l in layouts)
        {
            if (l.Copy is not { } copy)
            {
                await stdout.WriteLineAsync(string.Create(c,
                    $"{Describe(l.Layout),-34} {l.VectorBytesPerItem,9:N0} B {l.StorageBytesPerItem,8:N0} B {Gb(l.VectorBytes),9} {Gb(l.StorageBytes),9}  {Fit(l.Cheapest),-24} {Fit(l.CheapestForReindex),-24}")).ConfigureAwait(false);
                continue;
            }

            // With a copy space: each space's figures, then both, which the tiers hold.
            await stdout.WriteLineAsync(string.Create(c,
                $"{Describe(l.Layout),-34} {"category",-8} {1 + regions,12:N0} {l.VectorBytesPerItem,9:N0} B {l.StorageBytesPerItem,8:N0} B {Gb(l.VectorBytes),9} {Gb(l.StorageBytes),9}")).ConfigureAwait(false);
            await stdout.WriteLineAsync(string.Create(c,
                $"{"",-34} {"copies",-8} {copy.VectorsPerItem,12:N0} {copy.VectorBytesPerItem,9:N0} B {copy.StorageBytesPerItem,8:N0} B {Gb(copy.VectorBytes),9} {Gb(copy.StorageBytes),9}")).ConfigureAwait(false);
            await stdout.WriteLineAsync(string.Create(c,
                $"{"",-34} {"both",-8} {1 + regions + copy.VectorsPerItem,12:N0} {l.VectorBytesPerItem + copy.VectorBytesPerItem,9:N0} B {l.StorageBytesPerItem + copy.StorageBytesPerItem,8:N0} B {Gb(l.TotalVectorBytes),9} {Gb(l.TotalStorageBytes),9}  {Fit(l.Cheapest),-24} {Fit(l.CheapestForReindex),-24}")).ConfigureAwait(false);
        }

        var chosen = layouts[^1];
        await stdout.WriteLineAsync().ConfigureAwait(false);
        await stdout.WriteLineAsync($"Every tier for the default ({Describe(chosen.Layout)}){(copyRegions is null ? "" : ", both spaces")}:").ConfigureAwait(false);
        foreach (var t in chosen.Tiers)
            await stdout.WriteLineAsync(string.Create(c, $"  {t.Tier.Name,-6} {(t.Partitions is null ? "does not fit" : $"{t.Partitions} partition(s) x {t.Replicas} replica(s) = {t.MonthlyPrice:N0} USD/month")}")).ConfigureAwait(false);
        await stdout.WriteLineAsync(
            "Estimates, not measurements: vector bytes as indexed plus HNSW links and a 10% allowance for deleted documents; " +
            "disk adds the originals kept for re-scoring, the retrievable copy or the float16 copy, and ~1 KB of metadata" +
            (copyRegions is null ? "" : ", in each space. Detail regions: 58.6 per photo measured at Encoder__DetailRegionSide=448 (at most Encoder__DetailRegionLimit)") +
            ". See docs/deploy.md.").ConfigureAwait(false);
        return 0;
    }

    private static string Gb(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)AzureSearchSizing.GB:N1} GB");

    private static string Fit(TierFit? fit) => fit is null ? "none fits"
        : string.Create(CultureInfo.InvariantCulture, $"{fit.Tier.Name} x{fit.Partitions}: {fit.MonthlyPrice:N0} USD");

    private static string Describe(VectorLayout layout) =>
        (layout.Compression == AzureSearchVectorCompression.None ? "float32" : "int8") + (layout.StoreOriginals ? ", originals retrievable" : ", no retrievable originals");
}
