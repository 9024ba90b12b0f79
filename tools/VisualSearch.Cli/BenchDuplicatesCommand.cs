using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using VisualSearch.Duplicates;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;

namespace VisualSearch.Cli;

/// <summary>
/// <c>vsearch bench-duplicates [--count N] [--index DIR] [--seed S] [--workers N] [--json]</c>: time and memory of a
/// full near-duplicate grouping over N synthetic vectors (clustered like photos, with planted near and exact
/// copies whose sets are known), then of the incremental grouping after 100 more items. The index directory is
/// kept (pass --index to reuse one; a fresh temporary one otherwise, deleted at the end).
/// </summary>
public static class BenchDuplicatesCommand
{
    public static async Task<int> RunAsync(CliArgs args, TextWriter stdout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        args.RejectUnknown("index", "count", "seed", "workers", "json", "verbose");
        var count = args.GetInt("count", 100_000, 100, 2_000_000);
        var seed = args.GetInt("seed", 1, 0, int.MaxValue);
        var workers = args.GetInt("workers", Environment.ProcessorCount, 1, 256);
        var temporary = args.Get("index") is null ? Path.Combine(Path.GetTempPath(), "vsearch-bench-dup-" + Guid.NewGuid().ToString("N")[..8]) : null;
        var overrides = new Dictionary<string, string?>
        {
            ["Encoder:WarmUpOnStart"] = "false",
            ["LocalIndex:FlushToDisk"] = "false",
            ["Duplicates:Parallelism"] = workers.ToString(CultureInfo.InvariantCulture),
            ["Duplicates:DecisionsPath"] = Path.Combine(Path.GetTempPath(), "vsearch-bench-dup-decisions-" + Guid.NewGuid().ToString("N")[..8] + ".jsonl"),
        };
        if (temporary is not null) overrides[$"{LocalIndexOptions.SectionName}:Path"] = temporary;
        try
        {
            using var host = EngineHost.Build(args, overrides);
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
            var index = await host.Services.GetRequiredService<VectorIndexAccessor>().GetAsync(cancellationToken).ConfigureAwait(false);
            var model = host.Services.GetRequiredService<VisualSearch.Embedding.IImageEncoder>().Model;
            var seeding = Stopwatch.StartNew();
            var random = new Random(seed);
            var existing = await index.CountAsync(cancellationToken).ConfigureAwait(false);
            var planted = existing == 0 ? await SeedAsync(index, model.Id, model.Dimension, 0, count, random, cancellationToken).ConfigureAwait(false) : 0;
            seeding.Stop();

            var duplicates = host.Services.GetRequiredService<DuplicateService>();
            GC.Collect();
            var heapBefore = GC.GetTotalMemory(true);
            var allocatedBefore = GC.GetTotalAllocatedBytes(true);
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var full = Stopwatch.StartNew();
            var page = await duplicates.GetGroupsAsync(new DuplicateQuery(Limit: 1), cancellationToken).ConfigureAwait(false);
            full.Stop();
            var fullCpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
            var fullTimings = duplicates.LastTimings!;
            var allocated = GC.GetTotalAllocatedBytes(true) - allocatedBefore;
            var heapAfter = GC.GetTotalMemory(false);

            await SeedAsync(index, model.Id, model.Dimension, count, 100, random, cancellationToken).ConfigureAwait(false);
            var incremental = Stopwatch.StartNew();
            var after = await duplicates.GetGroupsAsync(new DuplicateQuery(Limit: 1), cancellationToken).ConfigureAwait(false);
            incremental.Stop();
            var peak = Process.GetCurrentProcess().PeakWorkingSet64;
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);

            var result = new
            {
                items = count,
                plantedCopies = planted,
                workers,
                minScore = page.MinScore,
                groups = page.Total,
                seedSeconds = Math.Round(seeding.Elapsed.TotalSeconds, 1),
                fullGroupingSeconds = Math.Round(full.Elapsed.TotalSeconds, 2),
                // CPU seconds of the whole process during the full grouping (all threads): what the load cannot inflate.
                fullGroupingCpuSeconds = Math.Round(fullCpu.TotalSeconds, 1),
                listSeconds = Math.Round(fullTimings.Scan.TotalSeconds, 2),
                selfJoinSeconds = Math.Round(fullTimings.Join.TotalSeconds, 2),
                unionFindSeconds = Math.Round(fullTimings.Group.TotalSeconds, 2),
                incrementalGroupingSeconds = Math.Round(incremental.Elapsed.TotalSeconds, 2),
                groupsAfterIncrement = after.Total,
                managedHeapGrowthMb = Math.Round((heapAfter - heapBefore) / 1048576.0, 1),
                allocatedMb = Math.Round(allocated / 1048576.0, 1),
                peakWorkingSetMb = Math.Round(peak / 1048576.0, 1),
                index = index.Kind,
                load = File.Exists("/proc/loadavg") ? (await File.ReadAllTextAsync("/proc/loadavg", cancellationToken).ConfigureAwait(false)).Trim() : null,
            };
            await stdout.WriteLineAsync(args.Has("json")
                ? JsonSerializer.Serialize(result)
                : string.Join(Environment.NewLine, result.GetType().GetProperties().Select(p => $"{p.Name,-28} {p.GetValue(result)}"))).ConfigureAwait(false);
            return 0;
        }
        finally
        {
            if (temporary is not null && Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
            if (File.Exists(overrides["Duplicates:DecisionsPath"])) File.Delete(overrides["Duplicates:DecisionsPath"]!);
        }
    }

    /// <summary>
    /// Unit vectors around count/100 random centres (noise 0.6 of the centre's scale, as vsearch bench); every
    /// tenth item is a near copy of an earlier one (noise 0.1: cosine about 0.98) and every hundredth an exact copy
    /// (same vector and content hash). Returns how many copies were planted.
    /// </summary>
    private static async Task<int> SeedAsync(IVectorIndex index, string modelId, int dimension, int start, int count, Random random, CancellationToken cancellationToken)
    {
        var centres = Enumerable.Range(0, Math.Max(1, count / 100)).Select(_ => Normalised(Enumerable.Range(0, dimension).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray())).ToArray();
        var kept = new List<(float[] Vector, string Hash)>();
        var planted = 0;
        for (var i = 0; i < count; i++)
        {
            float[] vector;
            string hash;
            if (kept.Count > 0 && i % 100 == 99)
            {
                (vector, hash) = kept[random.Next(kept.Count)];
                planted++;
            }
            else if (kept.Count > 0 && i % 10 == 9)
            {
                vector = Noisy(kept[random.Next(kept.Count)].Vector, 0.1f / MathF.Sqrt(dimension), random);
                hash = Hash(random);
                planted++;
            }
            else
            {
                vector = Noisy(centres[random.Next(centres.Length)], 0.6f / MathF.Sqrt(dimension), random);
                hash = Hash(random);
            }

            if (kept.Count < 10_000) kept.Add((vector, hash));
            else kept[random.Next(kept.Count)] = (vector, hash);
            var name = $"{start + i:D7}.png";
            await index.UpsertAsync(new VectorRecord("bench/" + name, vector, new ItemMetadata
            {
                Source = "synthetic",
                Name = name,
                ContentHash = hash,
                ContentType = "image/png",
                ModelId = modelId,
            }), cancellationToken).ConfigureAwait(false);
        }

        return planted;
    }

    private static float[] Noisy(float[] centre, float scale, Random random) =>
        Normalised([.. centre.Select(c => c + (float)(random.NextDouble() * 2 - 1) * scale * MathF.Sqrt(3))]);

    private static float[] Normalised(float[] v)
    {
        TensorPrimitives.Divide(v, TensorPrimitives.Norm(v), v);
        return v;
    }

    private static string Hash(Random random)
    {
        var bytes = new byte[32];
        random.NextBytes(bytes);
        return Convert.ToHexStringLower(bytes);
    }
}
