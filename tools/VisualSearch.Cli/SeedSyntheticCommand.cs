using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using VisualSearch.Indexing;

namespace VisualSearch.Cli;

/// <summary>
/// <c>vsearch seed-synthetic --count N [--index DIR] [--seed S]</c> (for benchmarks, not in the usage text): fills
/// an index with N random unit vectors under the configured model's id, without decoding or embedding anything
/// (10,000 real embeddings take minutes on two cores). Search by id against it measures the index and the HTTP
/// stack; search by image measures decode + embed + the same scan.
/// </summary>
public static class SeedSyntheticCommand
{
    public const string IdPrefix = "synthetic/";

    public static async Task<int> RunAsync(CliArgs args, TextWriter stdout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        args.RejectUnknown("index", "count", "seed", "verbose");
        var count = args.GetInt("count", 10_000, 1, 5_000_000);
        var seed = args.GetInt("seed", 1, 0, int.MaxValue);

        // One fsync at the end (dispose) instead of one per record: this is a benchmark fixture.
        var extra = new Dictionary<string, string?> { ["Encoder:WarmUpOnStart"] = "false", ["LocalIndex:FlushToDisk"] = "false" };
        using var host = EngineHost.Build(args, extra);
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        var index = await host.Services.GetRequiredService<VectorIndexAccessor>().GetAsync(cancellationToken).ConfigureAwait(false);
        var model = host.Services.GetRequiredService<VisualSearch.Embedding.IImageEncoder>().Model;

        var random = new Random(seed);
        var sw = Stopwatch.StartNew();
        var started = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
        string[] albums = ["holiday", "family", "work", "pets"];
        for (var i = 0; i < count; i++)
        {
            var vector = new float[model.Dimension];
            for (var d = 0; d < vector.Length; d++) vector[d] = (float)(random.NextDouble() * 2 - 1);
            TensorPrimitives.Divide(vector, TensorPrimitives.Norm(vector), vector);
            var hash = new byte[32];
            random.NextBytes(hash);
            var name = $"{i:D7}.png";
            await index.UpsertAsync(new VectorRecord(IdPrefix + name, vector, new ItemMetadata
            {
                Source = "synthetic",
                Name = name,
                ContentHash = Convert.ToHexStringLower(hash),
                ContentType = "image/png",
                Size = 1000 + random.Next(100_000),
                Width = 640,
                Height = 480,
                UploadedAt = started.AddMinutes(i),
                IndexedAt = started.AddMinutes(i),
                ModelId = model.Id,
                Tags = new Dictionary<string, string> { ["album"] = albums[i % albums.Length] },
            }), cancellationToken).ConfigureAwait(false);
        }

        var total = await index.CountAsync(cancellationToken).ConfigureAwait(false);
        await host.StopAsync(cancellationToken).ConfigureAwait(false);
        await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"Seeded {count} synthetic records ({model.Id}) in {sw.Elapsed.TotalSeconds:F1} s; the index holds {total}.")).ConfigureAwait(false);
        return 0;
    }
}
