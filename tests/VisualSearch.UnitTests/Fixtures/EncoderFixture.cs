using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Numerics.Tensors;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Diagnostics;
using VisualSearch.Embedding;
using VisualSearch.Imaging;

namespace VisualSearch.UnitTests.Fixtures;

/// <summary>
/// The real decoder and the bundled ResNet18 encoder, created once for every test in <see cref="EncoderCollection"/>
/// (loading the model takes about a second).
/// </summary>
public sealed class EncoderFixture : IDisposable
{
    private readonly ServiceProvider _services;
    private readonly ConcurrentDictionary<string, float[]> _samples = new(StringComparer.Ordinal);

    public EncoderFixture()
    {
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        Metrics = new VisualSearchMetrics(_services.GetRequiredService<IMeterFactory>());
        Decoder = new ImageDecoder(Options.Create(new ImagingOptions()));
        Encoder = new OnnxImageEncoder(Options.Create(new EncoderOptions()), NullLogger<OnnxImageEncoder>.Instance, Metrics);
    }

    public VisualSearchMetrics Metrics { get; }

    public ImageDecoder Decoder { get; }

    public OnnxImageEncoder Encoder { get; }

    /// <summary>Decodes and embeds encoded bytes.</summary>
    public float[] Embed(byte[] encoded) => Encoder.Embed(Decoder.Prepare(encoded, Encoder.InputSize)).Vector;

    /// <summary>The embedding of a sample photo, computed once.</summary>
    public float[] EmbedSample(string name) => _samples.GetOrAdd(name, n => Embed(SamplePhotos.Read(n)));

    public static float Cosine(float[] a, float[] b) => TensorPrimitives.CosineSimilarity(a, b);

    public void Dispose()
    {
        Encoder.Dispose();
        Metrics.Dispose();
        _services.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class EncoderCollection : ICollectionFixture<EncoderFixture>
{
    public const string Name = "encoder";
}
