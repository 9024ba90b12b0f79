using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Numerics.Tensors;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Diagnostics;
using VisualSearch.Embedding;
using VisualSearch.Embedding.Quantization;
using VisualSearch.Imaging;

namespace VisualSearch.UnitTests.Fixtures;

/// <summary>
/// The real decoder and the bundled ResNet18 encoder, created once for every test in <see cref="EncoderCollection"/>:
/// float32 (the default) and int8 (quantised on first use into a fresh cache folder of this run, a few seconds).
/// </summary>
public sealed class EncoderFixture : IDisposable
{
    private readonly ServiceProvider _services;
    private readonly TempDirectory _int8Cache = new("vs-int8-cache-");
    private readonly ConcurrentDictionary<string, float[]> _samples = new(StringComparer.Ordinal);

    public EncoderFixture()
    {
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        Metrics = new VisualSearchMetrics(_services.GetRequiredService<IMeterFactory>());
        Decoder = new ImageDecoder(Microsoft.Extensions.Options.Options.Create(new ImagingOptions()));
        Float32 = CreateEncoder(EncoderPrecision.Float32);
        Int8 = CreateEncoder(EncoderPrecision.Int8);
        Encoder = new EncoderOptions().Precision == EncoderPrecision.Int8 ? Int8 : Float32;
    }

    public VisualSearchMetrics Metrics { get; }

    public ImageDecoder Decoder { get; }

    /// <summary>The default encoder (float32).</summary>
    public OnnxImageEncoder Encoder { get; }

    /// <summary>The float32 model as published.</summary>
    public OnnxImageEncoder Float32 { get; }

    /// <summary>The int8 model quantised from it.</summary>
    public OnnxImageEncoder Int8 { get; }

    /// <summary>The int8 model file <see cref="Int8"/> runs (built by it on first use).</summary>
    public string Int8ModelPath => Path.Combine(_int8Cache.Path, Int8ModelBuilder.FileName("resnet18", Int8BuildInput()));

    public EncoderOptions Options(EncoderPrecision precision) => new() { Precision = precision, Int8CachePath = _int8Cache.Path };

    /// <summary>A new encoder with the fixture's int8 cache.</summary>
    public OnnxImageEncoder CreateEncoder(EncoderPrecision precision) =>
        new(Microsoft.Extensions.Options.Options.Create(Options(precision)), NullLogger<OnnxImageEncoder>.Instance, Metrics);

    /// <summary>What the int8 model is built from.</summary>
    public Int8BuildInput Int8BuildInput()
    {
        _ = Int8.Model; // loads (and so builds) first
        var options = Options(EncoderPrecision.Int8);
        return Int8ModelBuilder.InputFor(options, OnnxImageEncoder.CreatePreprocessor(options));
    }

    /// <summary>Decodes and embeds encoded bytes.</summary>
    public float[] Embed(byte[] encoded) => Encoder.Embed(Decoder.Prepare(encoded, Encoder.InputSize)).Vector;

    /// <summary>The embedding of a sample photo, computed once.</summary>
    public float[] EmbedSample(string name) => _samples.GetOrAdd(name, n => Embed(SamplePhotos.Read(n)));

    public static float Cosine(float[] a, float[] b) => TensorPrimitives.CosineSimilarity(a, b);

    public void Dispose()
    {
        Int8.Dispose();
        Float32.Dispose();
        Metrics.Dispose();
        _int8Cache.Dispose();
        _services.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class EncoderCollection : ICollectionFixture<EncoderFixture>
{
    public const string Name = "encoder";
}
