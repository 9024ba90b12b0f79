using System.Diagnostics;
using System.Numerics.Tensors;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;
using VisualSearch.ReliabilityTests.Infrastructure;
using Xunit.Abstractions;

namespace VisualSearch.ReliabilityTests;

/// <summary>
/// kill -9 of a real <c>vsearch seed-synthetic</c> process while it writes the index's snapshot (records.snapshot,
/// on close, after every record was acknowledged): the next open ignores the half-written temporary file, starts
/// from the previous snapshot, replays the log past it and holds every record with its vector and metadata.
/// </summary>
public sealed class SnapshotCrashTests(ITestOutputHelper output)
{
    private const int First = 2000;

    /// <summary>The snapshot's file name in the index directory (IndexSnapshot.FileName, internal to the index).</summary>
    private const string SnapshotFile = "records.snapshot";

    [Fact]
    public async Task Kill9_during_a_snapshot_write_loses_no_acknowledged_record()
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var count = 40_000 * (attempt + 1);
            using var dir = new TempDirectory("vs-rel-snap-");
            var index = Path.Combine(dir.Path, "index");
            Assert.Equal(0, await RunSeedAsync(index, First, seed: 1, killWhenExists: null));

            // The catalog keeps the model's index in a directory of its own under --index.
            var version = Path.GetDirectoryName(Directory.GetFiles(index, "records.log", SearchOption.AllDirectories).Single())!;
            var snapshot = Path.Combine(version, SnapshotFile);
            var before = await File.ReadAllBytesAsync(snapshot);

            if (await RunSeedAsync(index, count, seed: 2, killWhenExists: snapshot + ".tmp") is not null)
            {
                output.WriteLine($"attempt {attempt}: the snapshot of {count} records was written before the kill could land; trying with more");
                continue;
            }

            // Killed mid-write: the temporary file is there, the snapshot itself is still the one of the first run.
            Assert.True(File.Exists(snapshot + ".tmp"));
            Assert.Equal(before, await File.ReadAllBytesAsync(snapshot));
            output.WriteLine($"attempt {attempt}: killed while writing the snapshot of {count} records ({new FileInfo(snapshot + ".tmp").Length} bytes written)");

            using var meta = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(version, "index.json")));
            var schema = new IndexSchema(meta.RootElement.GetProperty("modelId").GetString()!, meta.RootElement.GetProperty("dimension").GetInt32());
            using (var reopened = new LocalVectorIndex(Options.Create(new LocalIndexOptions { Path = version, AnnThreshold = 0 }), NullLogger<LocalVectorIndex>.Instance))
            {
                await reopened.InitializeAsync(schema);
                Assert.Equal(count, await reopened.CountAsync());
                var random = new Random(2);
                for (var i = 0; i < count; i++)
                {
                    var (vector, hash) = Generated(random, schema.Dimension);
                    var record = await reopened.GetAsync($"synthetic/{i:D7}.png");
                    Assert.NotNull(record);
                    Assert.Equal(hash, record.Metadata.ContentHash);
                    Assert.Equal(vector, record.Vector);
                }
            }

            // The next close wrote a valid snapshot over the torn attempt.
            Assert.NotEqual(before, await File.ReadAllBytesAsync(snapshot));
            return;
        }

        Assert.Fail("No kill landed during a snapshot write in 3 attempts.");
    }

    /// <summary>What seed-synthetic generates for one record, in its order of calls on the seeded Random.</summary>
    private static (float[] Vector, string Hash) Generated(Random random, int dimension)
    {
        var vector = new float[dimension];
        for (var d = 0; d < vector.Length; d++) vector[d] = (float)(random.NextDouble() * 2 - 1);
        TensorPrimitives.Divide(vector, TensorPrimitives.Norm(vector), vector);
        var hash = new byte[32];
        random.NextBytes(hash);
        random.Next(100_000);
        return (vector, Convert.ToHexStringLower(hash));
    }

    /// <summary>
    /// Runs seed-synthetic; with <paramref name="killWhenExists"/> (the snapshot's temporary file), SIGKILLs it the
    /// moment that file appears and returns null. Otherwise (or when the process ended first) its exit code.
    /// </summary>
    private async Task<int?> RunSeedAsync(string index, int count, int seed, string? killWhenExists)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { VsearchProcess.CliPath, "seed-synthetic", "--index", index, "--count", count.ToString(System.Globalization.CultureInfo.InvariantCulture), "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture) })
            start.ArgumentList.Add(a);
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["LocalIndex__AnnThreshold"] = "0";
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start vsearch.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var deadline = Stopwatch.StartNew();
        while (!process.HasExited)
        {
            if (killWhenExists is not null && File.Exists(killWhenExists))
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
                return null;
            }

            if (deadline.Elapsed > TimeSpan.FromMinutes(10)) Assert.Fail($"seed-synthetic did not finish in 10 minutes:\n{await stdout}\n{await stderr}");
            Thread.Sleep(1);
        }

        await process.WaitForExitAsync();
        output.WriteLine((await stdout).Trim());
        if (process.ExitCode != 0) output.WriteLine(await stderr);
        return process.ExitCode;
    }
}
