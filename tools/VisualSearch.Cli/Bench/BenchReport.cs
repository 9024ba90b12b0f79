using System.Globalization;

namespace VisualSearch.Cli.Bench;

/// <summary>Everything one run of <c>vsearch bench</c> measured (serialised as its JSON output).</summary>
internal sealed class BenchReport
{
    public required MachineInfo Machine { get; init; }

    public DateTimeOffset StartedAt { get; init; }

    public string? ModelId { get; set; }

    /// <summary>Decode + preprocess, one thread, milliseconds per image.</summary>
    public List<DecodeResult> Decode { get; } = [];

    /// <summary>Where the 12 MP JPEG's decode + preprocess time goes (DecodeStages).</summary>
    public DecodeStagesResult? DecodeStages { get; set; }

    public List<EmbedResult> Embed { get; } = [];

    /// <summary>Session creation from the model file, by precision (the int8 file already built).</summary>
    public List<ModelLoadResult> ModelLoad { get; } = [];

    public CosineResult? ScaledDecodeCosine { get; set; }

    public List<IngestResult> Ingest { get; } = [];

    public PeerResult? Peer { get; set; }

    /// <summary>Ingest like for like, whole processes (PerCoreBench); null when the part did not run.</summary>
    public PerCoreResult? PerCore { get; set; }

    public List<IndexSizeResult> Index { get; } = [];

    /// <summary>The embedded index with region vectors (issue 14; --parts regions).</summary>
    public List<RegionIndexResult> RegionIndex { get; } = [];

    /// <summary>What a <c>--region-stage build</c> run measured (fill, exact search, graph build) and kept beside the index for the search stage.</summary>
    public List<RegionBuildState> RegionBuild { get; } = [];

    public List<ColdStartResult> ColdStart { get; } = [];

    /// <summary>Recall of the default graph on real embeddings (<c>--parts real</c>); null when the part did not run.</summary>
    public RealRecallResult? RealRecall { get; set; }

    public List<TargetResult> Targets { get; set; } = [];

    /// <summary>Parts that failed (the rest of the run is still reported).</summary>
    public List<string> Errors { get; } = [];
}

internal sealed record DecodeResult(string Input, int Width, int Height, long Bytes, double P50Ms, double P99Ms);

/// <summary>
/// One embed row: <see cref="P50Ms"/> is <c>OnnxImageEncoder.Embed</c> on a decoded photo (preprocessing, the session run,
/// the output's normalisation); <see cref="ModelAloneP50Ms"/> the same model file and session settings run alone on the
/// same tensor.
/// </summary>
internal sealed record EmbedResult(int IntraOpThreads, double P50Ms, string Precision = "Int8", double? ModelAloneP50Ms = null);

internal sealed record ModelLoadResult(string Precision, double P50Ms);

/// <summary>Cosine between the embedding of the k/8 scaled decode and that of a full-size decode.</summary>
internal sealed record CosineResult(int Images, double Min, double Mean);

internal sealed record IngestResult(int Workers, int IntraOpThreadsPerWorker, int Images, double ImagesPerSecond, string What = "centre crop only");

internal sealed record ColdStartResult(string Command, int IndexRecords, double Milliseconds);

internal sealed record TargetResult(string Target, string Measured, bool? Met);

internal sealed class PerCoreResult
{
    public int Images { get; set; }

    /// <summary>Whether taskset pinned the processes (Linux); without it they ran unpinned and the per-core rows are not per core.</summary>
    public bool Pinned { get; set; }

    public int Rounds { get; set; }

    public string? PeerError { get; set; }

    /// <summary>Configuration (what ran, where) to the median images/s over the rounds.</summary>
    public Dictionary<string, double> ImagesPerSecond { get; set; } = [];
}

internal sealed class PeerResult
{
    public string? Stack { get; set; }

    public string? Error { get; set; }

    public Dictionary<string, double> DecodeMs { get; set; } = [];

    public double EmbedMs { get; set; }

    public int IngestImages { get; set; }

    public double IngestImagesPerSecond { get; set; }

    /// <summary>The peer's embedding of the 12 MP JPEG (dropped from the output once compared).</summary>
    public float[]? Embedding12mp { get; set; }

    /// <summary>Cosine between the peer's and our embedding of the same 12 MP JPEG (same model and preprocessing, other resampler).</summary>
    public double? EmbeddingCosineWithOurs { get; set; }
}

internal sealed class MachineInfo
{
    public int Cores { get; init; }

    public string Cpu { get; init; } = "";

    public double MemoryGb { get; init; }

    public string Os { get; init; } = "";

    public string Runtime { get; init; } = "";

    public string LoadAverage { get; init; } = "";

    public string LoadAverageAtEnd { get; set; } = "";

    public static MachineInfo Read()
    {
        string cpu = "unknown";
        double memory = 0;
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
            var kb = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
            memory = Math.Round(double.Parse(kb, CultureInfo.InvariantCulture) / 1024 / 1024, 1);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or InvalidOperationException)
        {
            // Not Linux: leave unknown.
        }

        return new MachineInfo
        {
            Cores = Environment.ProcessorCount,
            Cpu = cpu,
            MemoryGb = memory,
            Os = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            Runtime = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
            LoadAverage = ReadLoadAverage(),
        };
    }

    public static string ReadLoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "unknown";
        }
    }
}
