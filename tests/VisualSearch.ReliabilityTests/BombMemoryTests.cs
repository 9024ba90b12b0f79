using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using Microsoft.Extensions.Options;
using VisualSearch.Imaging;
using VisualSearch.ReliabilityTests.Infrastructure;
using Xunit.Abstractions;

namespace VisualSearch.ReliabilityTests;

/// <summary>Tests that measure the process (memory, time) and so run alone, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MeasurementCollection
{
    public const string Name = "Measurements (run alone)";
}

/// <summary>
/// Decompression bombs are refused from the header: the peak resident memory of the process hardly moves while
/// they are decoded, where a decode would need 10 GB. The high-water mark is reset through /proc/self/clear_refs
/// (Linux) before each measurement; a large image within the limits shows the measurement sees real decodes.
/// </summary>
[Collection(MeasurementCollection.Name)]
public sealed class BombMemoryTests(ITestOutputHelper output)
{
    private const int Repeats = 20;
    private readonly ImageDecoder _decoder = new(Options.Create(new ImagingOptions()));

    [Fact]
    public void Bombs_are_refused_from_the_header_in_bounded_memory_and_time()
    {
        output.WriteLine("| file | declared | reason | peak RSS growth | managed bytes per decode | ms per decode |");
        output.WriteLine("|---|---|---|---:|---:|---:|");
        foreach (var bomb in HostileCorpus.All.Where(c => c.Bomb))
        {
            var ex = Assert.Throws<ImageRejectedException>(() => _decoder.Prepare(bomb.Bytes, 224)); // warm-up
            Assert.Equal(bomb.Reason, ex.Reason);

            var m = Measure(() =>
            {
                for (var i = 0; i < Repeats; i++)
                    Assert.Equal(ImageRejectionReason.TooManyPixels, Assert.Throws<ImageRejectedException>(() => _decoder.Prepare(bomb.Bytes, 224)).Reason);
            });
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {bomb.Name} | {bomb.What} | {ex.Reason} | {Mb(m.PeakGrowth)} | {m.ManagedBytes / Repeats:N0} | {m.Milliseconds / Repeats:F2} |"));

            Assert.True(m.ManagedBytes / Repeats < 256 * 1024, $"{bomb.Name}: {m.ManagedBytes / Repeats} managed bytes per refusal");
            if (m.PeakGrowth is { } growth) Assert.True(growth < 32L * 1024 * 1024, $"{bomb.Name}: the peak RSS grew by {Mb(growth)}");
            Assert.True(m.Milliseconds / Repeats < 100, $"{bomb.Name}: {m.Milliseconds / Repeats:F1} ms per refusal");
        }
    }

    [Fact]
    public void A_large_image_within_the_limits_costs_what_its_pixels_cost()
    {
        // 6000 x 6000 (36 MP, under the 100 MP limit) of zeros: 110 KB of PNG, 144 MB as RGBA.
        var png = ZeroPng(6000, 6000);
        var m = Measure(() => Assert.Equal(6000, _decoder.Prepare(png, 224).Width));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"6000x6000 PNG of {png.Length:N0} bytes: peak RSS growth {Mb(m.PeakGrowth)}, {m.Milliseconds:F0} ms"));
        if (m.PeakGrowth is { } growth)
        {
            // The decode itself is visible (so the bomb measurements above mean something), and bounded by a few
            // copies of its bitmap (decoded RGBA, and the image drawn from it): Imaging:MaxPixels bounds the memory.
            Assert.InRange(growth, 100L * 1024 * 1024, 3L * 6000 * 6000 * 4 + 64L * 1024 * 1024);
        }
    }

    private static (long? PeakGrowth, long ManagedBytes, double Milliseconds) Measure(Action action)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var canReset = ResetPeak();
        var baseline = ReadStatus("VmRSS:");
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        action();
        var ms = sw.Elapsed.TotalMilliseconds;
        var managed = GC.GetAllocatedBytesForCurrentThread() - allocated;
        var peak = ReadStatus("VmHWM:");
        return (canReset && baseline is { } b && peak is { } p ? Math.Max(0, p - b) : null, managed, ms);
    }

    /// <summary>Resets the process's peak RSS (VmHWM) to its current RSS; false where /proc does not allow it.</summary>
    private static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static long? ReadStatus(string field)
    {
        if (!File.Exists("/proc/self/status")) return null;
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
        if (line is null) return null;
        var kb = long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        return kb * 1024;
    }

    private static string Mb(long? bytes) => bytes is { } b ? string.Create(CultureInfo.InvariantCulture, $"{b / 1024.0 / 1024.0:F1} MB") : "n/a";

    /// <summary>A valid 8-bit RGB PNG of zeros, compressed row by row (never the whole raw image in memory).</summary>
    private static byte[] ZeroPng(int width, int height)
    {
        using var idat = new MemoryStream();
        using (var zlib = new ZLibStream(idat, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var row = new byte[1 + width * 3];
            for (var y = 0; y < height; y++) zlib.Write(row);
        }

        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;
        ihdr[9] = 2;
        using var png = new MemoryStream();
        png.Write(TestImages.PngSignature);
        TestImages.WritePngChunk(png, "IHDR", ihdr);
        TestImages.WritePngChunk(png, "IDAT", idat.ToArray());
        TestImages.WritePngChunk(png, "IEND", []);
        return png.ToArray();
    }
}
