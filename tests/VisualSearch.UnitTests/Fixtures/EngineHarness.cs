using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Imaging;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;
using VisualSearch.Search;

namespace VisualSearch.UnitTests.Fixtures;

/// <summary>The services as a host would compose them, by hand: real decoder, encoder and a local index in a temp folder.</summary>
public sealed class EngineHarness : IDisposable
{
    private readonly TempDirectory _dir = new();

    public EngineHarness(EncoderFixture fixture)
    {
        Index = new LocalVectorIndex(Options.Create(new LocalIndexOptions { Path = _dir.Path, FlushToDisk = false }), NullLogger<LocalVectorIndex>.Instance);
        Accessor = new VectorIndexAccessor(Index, fixture.Encoder);
        Ingestion = new IngestionService(fixture.Decoder, fixture.Encoder, Accessor, Options.Create(new ImagingOptions()),
            fixture.Metrics, TimeProvider.System, NullLogger<IngestionService>.Instance);
        Search = new SearchService(fixture.Decoder, fixture.Encoder, Accessor, fixture.Metrics, NullLogger<SearchService>.Instance);
    }

    public LocalVectorIndex Index { get; }

    public VectorIndexAccessor Accessor { get; }

    public IngestionService Ingestion { get; }

    public SearchService Search { get; }

    public static IngestRequest Request(string id, string? etag = null) => new()
    {
        Id = id,
        Source = "file",
        Name = id,
        ETag = etag,
    };

    public Task<IngestResult> IngestAsync(string id, byte[] bytes, string? etag = null) =>
        Ingestion.IngestAsync(Request(id, etag), _ => Task.FromResult<Stream>(new MemoryStream(bytes, writable: false)));

    public void Dispose()
    {
        Index.Dispose();
        _dir.Dispose();
    }
}
