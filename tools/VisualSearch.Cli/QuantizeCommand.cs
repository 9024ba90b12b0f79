using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using VisualSearch.Embedding;
using VisualSearch.Embedding.Quantization;
using VisualSearch.Imaging;

namespace VisualSearch.Cli;

/// <summary>
/// <c>vsearch quantize [--out DIR]</c>: builds the int8 model of the configured encoder (Encoder:* settings) beside
/// the float one, or into DIR, where an int8 encoder looks first (<c>-p:QuantizeOnBuild=true</c> runs it after the
/// build; the deploy workflow runs it into the Functions package); an encoder that finds none quantises into its cache.
/// Prints the file and whether it was built or already there (same key: same source model, quantiser, photos).
/// </summary>
public static class QuantizeCommand
{
    public const string Usage = "Usage: vsearch quantize [--out DIR] | vsearch quantize --sensitivity <folder-or-manifest> [--subset NAME] [--task T] [--limit 600] [--units] [--only SELECTORS]";

    public static Task<int> RunAsync(CliArgs args, TextWriter stdout, CancellationToken cancellationToken)
    {
        args.RejectUnknown("out", "verbose", "sensitivity", "limit", "subset", "task", "units", "only");
        if (args.Positionals.Count != (args.Has("sensitivity") ? 1 : 0)) throw new UsageException(Usage);
        var builder = EngineHost.CreateBuilder();
        builder.AddVisualSearchEngine();
        using var host = builder.Build();
        var options = host.Services.GetRequiredService<IOptions<EncoderOptions>>().Value;
        var decoder = host.Services.GetRequiredService<IImageDecoder>();
        cancellationToken.ThrowIfCancellationRequested();
        if (args.Has("sensitivity")) return Task.FromResult(QuantizeSensitivity.Run(args, options, decoder, stdout, cancellationToken));

        var input = Int8ModelBuilder.InputFor(options, OnnxImageEncoder.CreatePreprocessor(options));
        var directory = args.Get("out") is { } o ? Path.GetFullPath(o) : Path.GetDirectoryName(input.SourcePath)!;
        var sw = Stopwatch.StartNew();
        var path = Int8ModelBuilder.GetOrBuild(options.ModelName, input, decoder, [directory], out var built);
        stdout.WriteLine(built
            ? $"Built {path} ({new FileInfo(path).Length / 1024} KB, sha256 {Int8ModelBuilder.Sha256Of(path)[..12]}) in {sw.Elapsed.TotalSeconds:F1} s from {Path.GetFileName(input.SourcePath)} and {input.CalibrationFiles.Count} calibration photos."
            : $"Up to date: {path}");
        return Task.FromResult(0);
    }
}
