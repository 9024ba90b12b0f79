using System.Diagnostics.Metrics;
using System.Numerics.Tensors;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Diagnostics;
using VisualSearch.Embedding;
using VisualSearch.Imaging;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;
using VisualSearch.Search;

namespace VisualSearch.ReliabilityTests.Infrastructure;

/// <summary>The real decoder and ResNet18 encoder, loaded once for the tests of <see cref="EngineCollection"/>.</summary>
public sealed class EngineFixture : IDisposable
{
    private readonly ServiceProvider _services;

    public EngineFixture()
    {
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        Metrics = new VisualSearchMetrics(_services.GetRequiredService<IMeterFactory>());
        Decoder = new ImageDecoder(Options.Create(new ImagingOptions()));
        Encoder = new OnnxImageEncoder(Options.Create(new EncoderOptions()), NullLogger<OnnxImageEncoder>.Instance, Metrics);
    }

    public VisualSearchMetrics Metrics { get; }

    public ImageDecoder Decoder { get; }

    public OnnxImageEncoder Encoder { get; }

    public float[] Embed(byte[] encoded) => Encoder.Embed(Decoder.Prepare(encoded, Encoder.InputSize)).Vector;

    public static float Cosine(float[] a, float[] b) => TensorPrimitives.CosineSimilarity(a, b);

    public void Dispose()
    {
        Encoder.Dispose();
        Metrics.Dispose();
        _services.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class EngineCollection : ICollectionFixture<EngineFixture>
{
    public const string Name = "Engine (reliability)";
}

/// <summary>Ingestion and search over a fresh local index in a temporary directory, composed by hand, logs captured.</summary>
public sealed class Engine : IDisposable
{
    private readonly TempDirectory _dir = new("vs-rel-engine-");
    private readonly ILoggerFactory _loggers;

    public Engine(EngineFixture fixture, bool flushToDisk = false)
    {
        ArgumentNullException.ThrowIfNull(fixture);
        _loggers = LoggerFactory.Create(b => b.AddProvider(Logs).SetMinimumLevel(LogLevel.Debug));
        Index = new LocalVectorIndex(Options.Create(new LocalIndexOptions { Path = _dir.Path, FlushToDisk = flushToDisk }), _loggers.CreateLogger<LocalVectorIndex>());
        Accessor = new VectorIndexAccessor(Index, fixture.Encoder);
        Ingestion = new IngestionService(fixture.Decoder, fixture.Encoder, Accessor, Options.Create(new ImagingOptions()),
            fixture.Metrics, TimeProvider.System, _loggers.CreateLogger<IngestionService>());
        Search = new SearchService(fixture.Decoder, fixture.Encoder, Accessor, fixture.Metrics, _loggers.CreateLogger<SearchService>());
    }

    public string Directory => _dir.Path;

    public LogCapture Logs { get; } = new();

    public LocalVectorIndex Index { get; }

    public VectorIndexAccessor Accessor { get; }

    public IngestionService Ingestion { get; }

    public SearchService Search { get; }

    public static IngestRequest Request(string id, string? etag = null, DateTimeOffset? uploadedAt = null, bool skipOlder = false) => new()
    {
        Id = id,
        Source = "test",
        Name = id,
        ETag = etag,
        UploadedAt = uploadedAt,
        SkipOlderVersions = skipOlder,
    };

    public Task<IngestResult> IngestAsync(string id, byte[] bytes, string? etag = null) =>
        Ingestion.IngestAsync(Request(id, etag), _ => Task.FromResult<Stream>(new MemoryStream(bytes, writable: false)));

    public void Dispose()
    {
        Index.Dispose();
        _loggers.Dispose();
        _dir.Dispose();
    }
}
