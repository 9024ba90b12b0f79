using VisualSearch.Imaging;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;
using VisualSearch.UnitTests.Fixtures;

namespace VisualSearch.UnitTests.Ingestion;

[Collection(EncoderCollection.Name)]
public sealed class IngestionServiceTests(EncoderFixture fixture) : IDisposable
{
    private readonly EngineHarness _engine = new(fixture);

    public void Dispose() => _engine.Dispose();

    [Fact]
    public async Task Indexing_stores_the_vector_and_metadata_of_the_image()
    {
        var bytes = TestImages.Photo(seed: 21, width: 300, height: 200, ImageFormat.Jpeg);
        var request = EngineHarness.Request("photos/a.jpg", "\"e1\"") with
        {
            UploadedAt = new DateTimeOffset(2024, 2, 3, 4, 5, 6, TimeSpan.Zero),
            Tags = new Dictionary<string, string> { ["Album"] = " trip ", ["secret"] = "dropped", ["owner"] = "mallory" }, // the owner is the server's, never client metadata
        };

        var result = await _engine.Ingestion.IngestAsync(request, new MemoryStream(bytes));

        Assert.Equal(new IngestResult("photos/a.jpg", IngestOutcome.Indexed), result);
        var stored = await _engine.Index.GetAsync("photos/a.jpg");
        Assert.NotNull(stored);
        Assert.Equal(fixture.Embed(bytes), stored.Vector);
        var m = stored.Metadata;
        Assert.Equal(fixture.Encoder.Model.Id, m.ModelId);
        Assert.Equal("image/jpeg", m.ContentType);
        Assert.Equal((300, 200), (m.Width, m.Height));
        Assert.Equal(bytes.Length, m.Size);
        Assert.Equal("\"e1\"", m.ETag);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)), m.ContentHash);
        Assert.Equal(request.UploadedAt, m.UploadedAt);
        Assert.Equal(new Dictionary<string, string> { ["album"] = "trip" }, m.Tags);
    }

    [Fact]
    public async Task Same_bytes_and_same_etag_are_skipped_without_reading_the_content()
    {
        var bytes = TestImages.Photo(seed: 22, width: 256, height: 256, ImageFormat.Png);
        var opened = 0;
        Task<Stream> Open(CancellationToken _)
        {
            opened++;
            return Task.FromResult<Stream>(new MemoryStream(bytes, writable: false));
        }

        var first = await _engine.Ingestion.IngestAsync(EngineHarness.Request("x", "\"v1\""), Open);
        Assert.Equal(IngestOutcome.Indexed, first.Outcome);
        Assert.Equal(1, opened);
        var indexedAt = (await _engine.Index.GetAsync("x"))?.Metadata.IndexedAt;

        var second = await _engine.Ingestion.IngestAsync(EngineHarness.Request("x", "\"v1\""), Open);

        Assert.Equal(IngestOutcome.Unchanged, second.Outcome);
        Assert.Equal(1, opened);
        Assert.Equal(1, await _engine.Index.CountAsync());
        Assert.Equal(indexedAt, (await _engine.Index.GetAsync("x"))?.Metadata.IndexedAt);
    }

    [Fact]
    public async Task Same_bytes_under_a_new_etag_are_unchanged_by_content_hash()
    {
        var bytes = TestImages.Photo(seed: 23, width: 256, height: 200, ImageFormat.Png);
        await _engine.IngestAsync("x", bytes, "\"v1\"");
        var before = await _engine.Index.GetAsync("x");

        var result = await _engine.IngestAsync("x", bytes, "\"v2\"");

        Assert.Equal(IngestOutcome.Unchanged, result.Outcome);
        var after = await _engine.Index.GetAsync("x");
        Assert.NotNull(before);
        Assert.NotNull(after);
        Assert.Equal(before.Vector, after.Vector);
        Assert.Equal(before.Metadata.IndexedAt, after.Metadata.IndexedAt);
        Assert.Equal("\"v2\"", after.Metadata.ETag);
        Assert.Equal(1, await _engine.Index.CountAsync());

        // With the new tag remembered, the next check is by ETag and does not read the content.
        var read = false;
        var third = await _engine.Ingestion.IngestAsync(EngineHarness.Request("x", "\"v2\""), _ =>
        {
            read = true;
            return Task.FromResult<Stream>(new MemoryStream(bytes));
        });
        Assert.Equal(IngestOutcome.Unchanged, third.Outcome);
        Assert.False(read);
    }

    [Fact]
    public async Task New_bytes_under_the_same_id_are_indexed_again()
    {
        await _engine.IngestAsync("x", SamplePhotos.Read("chelsea.png"), "\"v1\"");
        var before = await _engine.Index.GetAsync("x");

        var result = await _engine.IngestAsync("x", SamplePhotos.Read("coffee.png"), "\"v2\"");

        Assert.Equal(IngestOutcome.Indexed, result.Outcome);
        var after = await _engine.Index.GetAsync("x");
        Assert.NotNull(before);
        Assert.NotNull(after);
        Assert.NotEqual(before.Vector, after.Vector);
        Assert.Equal(fixture.EmbedSample("coffee.png"), after.Vector);
        Assert.Equal((600, 400), (after.Metadata.Width, after.Metadata.Height));
        Assert.Equal(1, await _engine.Index.CountAsync());
    }

    [Fact]
    public async Task New_bytes_without_etags_are_indexed_again()
    {
        await _engine.IngestAsync("x", TestImages.Photo(1, 200, 200, ImageFormat.Png));
        var result = await _engine.IngestAsync("x", TestImages.Photo(2, 200, 200, ImageFormat.Png));
        Assert.Equal(IngestOutcome.Indexed, result.Outcome);
        Assert.Equal(1, await _engine.Index.CountAsync());
    }

    [Fact]
    public async Task A_bad_image_is_rejected_with_its_reason_and_nothing_is_stored()
    {
        var jpeg = TestImages.Photo(seed: 24, width: 300, height: 300, ImageFormat.Jpeg);

        var truncated = await _engine.IngestAsync("bad/cut.jpg", jpeg[..(jpeg.Length / 2)]);
        var text = await _engine.IngestAsync("bad/text.jpg", "not an image"u8.ToArray());

        Assert.Equal(IngestOutcome.Rejected, truncated.Outcome);
        Assert.Equal(ImageRejectionReason.Truncated, truncated.Reason);
        Assert.False(string.IsNullOrEmpty(truncated.Detail));
        Assert.Equal(IngestOutcome.Rejected, text.Outcome);
        Assert.Equal(ImageRejectionReason.UnsupportedFormat, text.Reason);
        Assert.Null(await _engine.Index.GetAsync("bad/cut.jpg"));
        Assert.Equal(0, await _engine.Index.CountAsync());
    }

    [Fact]
    public async Task A_declared_length_over_the_limit_is_rejected_without_reading()
    {
        var request = EngineHarness.Request("big") with { Length = new ImagingOptions().MaxBytes + 1 };
        var result = await _engine.Ingestion.IngestAsync(request, _ => throw new InvalidOperationException("Must not be read."));

        Assert.Equal(IngestOutcome.Rejected, result.Outcome);
        Assert.Equal(ImageRejectionReason.TooLarge, result.Reason);
    }

    [Fact]
    public async Task Invalid_ids_are_refused()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _engine.IngestAsync("../escape", TestImages.Photo(1, 64, 64, ImageFormat.Png)));
        await Assert.ThrowsAsync<ArgumentException>(() => _engine.Ingestion.RemoveAsync("a//b"));
    }

    [Fact]
    public async Task Remove_deletes_the_record()
    {
        await _engine.IngestAsync("x", TestImages.Photo(seed: 25, width: 128, height: 128, ImageFormat.Png));
        Assert.NotNull(await _engine.Index.GetAsync("x"));

        Assert.True(await _engine.Ingestion.RemoveAsync("x"));

        Assert.Null(await _engine.Index.GetAsync("x"));
        Assert.Equal(0, await _engine.Index.CountAsync());
        Assert.False(await _engine.Ingestion.RemoveAsync("x"));
    }

    [Fact]
    public async Task ReadBounded_returns_null_past_the_limit()
    {
        var data = new byte[1000];
        Assert.Equal(1000, (await BoundedRead.ReadAsync(new MemoryStream(data), 1000, CancellationToken.None))?.Length);
        Assert.Null(await BoundedRead.ReadAsync(new MemoryStream(data), 999, CancellationToken.None));
    }

    [Fact]
    public async Task ReadBounded_with_a_known_length_costs_the_body_once()
    {
        // Issue 20: 20 MB bodies cost 2.6x their size through the growing buffer. With the Content-Length the read
        // fills one array of that size (a MemoryStream source completes synchronously: one thread to count on).
        var data = TestImages.RandomBytes(20 * 1024 * 1024);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var read = await BoundedRead.ReadAsync(new MemoryStream(data), 50L * 1024 * 1024, CancellationToken.None, data.Length);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(data, read);
        Assert.True(allocated < data.Length * 1.05, $"{allocated:N0} bytes allocated to read {data.Length:N0}");

        // A length that was wrong either way still gives the real bytes, and the limit still holds.
        Assert.Equal(data, await BoundedRead.ReadAsync(new MemoryStream(data), 50L * 1024 * 1024, CancellationToken.None, 1000));
        Assert.Equal(data, await BoundedRead.ReadAsync(new MemoryStream(data), 50L * 1024 * 1024, CancellationToken.None, data.Length + 10));
        Assert.Null(await BoundedRead.ReadAsync(new MemoryStream(data), data.Length - 1, CancellationToken.None, 1000));
    }
}
