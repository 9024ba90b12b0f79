using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Microsoft.Extensions.DependencyInjection;
using VisualSearch.Blobs;
using VisualSearch.Embedding;
using VisualSearch.Imaging;
using VisualSearch.Ingestion;
using VisualSearch.ReliabilityTests.Infrastructure;
using VisualSearch.Search;

namespace VisualSearch.ReliabilityTests;

/// <summary>
/// Event Grid delivers at least once and out of order, and one upload can raise several BlobCreated events.
/// Against a real Azurite, through the Functions classes: the result is always one record of the newest content.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class EventDeliveryTests(AzuriteInstance azurite) : IAsyncLifetime
{
    private const int IndexedEvent = 10;
    private const int RejectedEvent = 12;
    private const int GoneEvent = 300;
    private const int DeletedButPresentEvent = 303;

    private static readonly byte[] ImageA = TestImages.Photo(501, 240, 180, ImageFormat.Jpeg);
    private static readonly byte[] ImageB = TestImages.Photo(502, 240, 180, ImageFormat.Png);

    private BlobContainerClient _container = null!;
    private FunctionServicesHost _host = null!;

    public async Task InitializeAsync()
    {
        _container = await azurite.NewContainerAsync();
        _host = await FunctionServicesHost.StartAsync(azurite.BlobSourceSettings(_container.Name));
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _container.DeleteIfExistsAsync();
    }

    private string Id(string name) => ItemIds.ForBlob(_container.Name, name);

    [Fact]
    public async Task Repeated_BlobCreated_events_for_one_upload_give_one_record_indexed_once()
    {
        // A block upload (PutBlock + PutBlockList), its event delivered three times (at least once).
        var blob = _container.GetBlockBlobClient("dup.jpg");
        var block = Convert.ToBase64String("block-0001"u8);
        await blob.StageBlockAsync(block, new MemoryStream(ImageA));
        await blob.CommitBlockListAsync([block]);

        for (var i = 0; i < 3; i++) Assert.Equal(200, await _host.PostEventsAsync(EventGrid.Created(_container.Name, "dup.jpg", "PutBlockList")));

        Assert.Equal(1, await _host.CountAsync());
        Assert.Single(_host.Logs.WithEventId(IndexedEvent), e => e.Message.Contains(Id("dup.jpg"), StringComparison.Ordinal));
        Assert.Equal(Sha256(ImageA), (await _host.RecordAsync(Id("dup.jpg")))!.Metadata.ContentHash);
    }

    [Fact]
    public async Task PutBlob_then_PutBlockList_events_in_any_order_end_with_the_committed_content()
    {
        // An empty PutBlob creates the name, a PutBlockList then commits the content: two BlobCreated events.
        var blob = _container.GetBlockBlobClient("two-step.png");
        await blob.UploadAsync(new MemoryStream([]));
        var putBlob = EventGrid.Created(_container.Name, "two-step.png", "PutBlob");
        Assert.Equal(200, await _host.PostEventsAsync(putBlob)); // handled while the blob is still empty: refused, nothing stored
        Assert.Equal(0, await _host.CountAsync());

        var block = Convert.ToBase64String("block-0001"u8);
        await blob.StageBlockAsync(block, new MemoryStream(ImageB));
        await blob.CommitBlockListAsync([block]);
        Assert.Equal(200, await _host.PostEventsAsync(EventGrid.Created(_container.Name, "two-step.png", "PutBlockList")));
        Assert.Equal(200, await _host.PostEventsAsync(putBlob)); // the first event again, late

        Assert.Equal(1, await _host.CountAsync());
        Assert.Equal(Sha256(ImageB), (await _host.RecordAsync(Id("two-step.png")))!.Metadata.ContentHash);
        Assert.Single(_host.Logs.WithEventId(IndexedEvent), e => e.Message.Contains(Id("two-step.png"), StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_old_event_delivered_after_a_newer_upload_keeps_the_newest_content()
    {
        var blob = _container.GetBlobClient("overwritten.jpg");
        await blob.UploadAsync(new BinaryData(ImageA));
        var first = EventGrid.Created(_container.Name, "overwritten.jpg");
        await blob.UploadAsync(new BinaryData(ImageB), overwrite: true);
        var second = EventGrid.Created(_container.Name, "overwritten.jpg");

        Assert.Equal(200, await _host.PostEventsAsync(second));
        Assert.Equal(200, await _host.PostEventsAsync(first)); // out of order: the older upload's event last

        var record = await _host.RecordAsync(Id("overwritten.jpg"));
        Assert.Equal(Sha256(ImageB), record!.Metadata.ContentHash);
        Assert.Equal(1, await _host.CountAsync());
        AssertVectorIs(record.Vector, ImageB);
    }

    [Fact]
    public async Task A_slow_ingest_of_an_old_version_never_overwrites_the_newer_one()
    {
        // v1's download completes, then stalls before embedding; meanwhile v2 is uploaded and indexed.
        var name = "race.jpg";
        await _container.GetBlobClient(name).UploadAsync(new BinaryData(ImageA));
        var stalled = new StallingBlobClient(azurite.ConnectionString, _container.Name, name);
        var slow = _host.Services.GetRequiredService<BlobIngestor>().IngestAsync(stalled);
        await stalled.Downloaded.Task.WaitAsync(TimeSpan.FromSeconds(30));

        await Task.Delay(1100); // Last-Modified has one-second resolution: v2 is strictly newer
        await _container.GetBlobClient(name).UploadAsync(new BinaryData(ImageB), overwrite: true);
        Assert.Equal(200, await _host.PostEventsAsync(EventGrid.Created(_container.Name, name)));
        Assert.Equal(Sha256(ImageB), (await _host.RecordAsync(Id(name)))!.Metadata.ContentHash);

        stalled.Release.SetResult();
        var result = await slow.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.NotNull(result);
        Assert.Equal(IngestOutcome.Unchanged, result.Outcome);
        var record = await _host.RecordAsync(Id(name));
        Assert.Equal(Sha256(ImageB), record!.Metadata.ContentHash);
        AssertVectorIs(record.Vector, ImageB);
    }

    [Fact]
    public async Task Delete_then_reupload_in_order_gives_the_new_vector()
    {
        var blob = _container.GetBlobClient("again.jpg");
        await blob.UploadAsync(new BinaryData(ImageA));
        Assert.Equal(200, await _host.PostEventsAsync(EventGrid.Created(_container.Name, "again.jpg")));
        var before = (await _host.RecordAsync(Id("again.jpg")))!.Vector;

        await blob.DeleteAsync();
        Assert.Equal(200, await _host.PostEventsAsync(EventGrid.Deleted(_container.Name, "again.jpg")));
        Assert.Null(await _host.RecordAsync(Id("again.jpg")));

        await blob.UploadAsync(new BinaryData(ImageB));
        Assert.Equal(200, await _host.PostEventsAsync(EventGrid.Created(_container.Name, "again.jpg")));
        var after = await _host.RecordAsync(Id("again.jpg"));
        Assert.NotEqual(before, after!.Vector);
        AssertVectorIs(after.Vector, ImageB);
    }

    [Fact]
    public async Task A_delete_event_arriving_after_the_reupload_removes_nothing()
    {
        var blob = _container.GetBlobClient("late-delete.jpg");
        await blob.UploadAsync(new BinaryData(ImageA));
        Assert.Equal(200, await _host.PostEventsAsync(EventGrid.Created(_container.Name, "late-delete.jpg")));
        await blob.DeleteAsync();
        await blob.UploadAsync(new BinaryData(ImageB));

        // Out of order: the re-upload's BlobCreated first, the BlobDeleted of the old blob after it.
        Assert.Equal(200, await _host.PostEventsAsync(EventGrid.Created(_container.Name, "late-delete.jpg")));
        Assert.Equal(200, await _host.PostEventsAsync(EventGrid.Deleted(_container.Name, "late-delete.jpg")));

        var record = await _host.RecordAsync(Id("late-delete.jpg"));
        Assert.NotNull(record);
        AssertVectorIs(record.Vector, ImageB);
        Assert.Single(_host.Logs.WithEventId(DeletedButPresentEvent));
    }

    [Fact]
    public async Task A_blob_deleted_while_it_is_embedded_leaves_no_record()
    {
        await _container.GetBlobClient("vanishing.jpg").UploadAsync(new BinaryData(ImageA));
        // The blob is read, then deleted (and its BlobDeleted handled) before the vector is written.
        var vanishing = new DeletingBlobClient(azurite.ConnectionString, _container.Name, "vanishing.jpg", async () =>
        {
            await _container.DeleteBlobAsync("vanishing.jpg");
            Assert.Equal(200, await _host.PostEventsAsync(EventGrid.Deleted(_container.Name, "vanishing.jpg")));
        });

        var result = await _host.Services.GetRequiredService<BlobIngestor>().IngestAsync(vanishing);

        Assert.Equal(IngestOutcome.Indexed, result!.Outcome);
        Assert.Null(await _host.RecordAsync(Id("vanishing.jpg")));
        Assert.Equal(0, await _host.CountAsync());
    }

    [Fact]
    public async Task An_event_for_a_blob_that_no_longer_exists_is_dropped_with_one_log_line()
    {
        Assert.Equal(200, await _host.PostEventsAsync(EventGrid.Created(_container.Name, "ghost.png")));
        await _host.Ingest.IngestImage(_host.Blobs.GetBlobContainerClient(_container.Name).GetBlobClient("ghost2.png"), CancellationToken.None);

        Assert.Equal(0, await _host.CountAsync());
        var gone = _host.Logs.WithEventId(GoneEvent);
        Assert.Equal(2, gone.Count);
        Assert.Single(gone, e => e.Message.Contains($"{_container.Name}/ghost.png", StringComparison.Ordinal));
        Assert.Single(gone, e => e.Message.Contains($"{_container.Name}/ghost2.png", StringComparison.Ordinal));
        Assert.Empty(_host.Logs.WithEventId(RejectedEvent));
    }

    private void AssertVectorIs(float[] stored, byte[] image)
    {
        var decoder = _host.Services.GetRequiredService<IImageDecoder>();
        var encoder = _host.Services.GetRequiredService<IImageEncoder>();
        var expected = encoder.Embed(decoder.Prepare(image, encoder.InputSize)).Vector;
        Assert.True(EngineFixture.Cosine(stored, expected) > 0.9999f, "The stored vector is not the embedding of the expected content.");
    }

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>Reads the blob in full, then waits to be released before handing the content to ingestion.</summary>
    private sealed class StallingBlobClient(string connectionString, string container, string name)
        : BlobClient(connectionString, container, name, AzuriteInstance.ClientOptions())
    {
        public TaskCompletionSource Downloaded { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async Task<Response<BlobDownloadStreamingResult>> DownloadStreamingAsync(BlobDownloadOptions? options = null, CancellationToken cancellationToken = default)
        {
            var response = await base.DownloadStreamingAsync(options, cancellationToken).ConfigureAwait(false);
            var buffered = new MemoryStream();
            await response.Value.Content.CopyToAsync(buffered, cancellationToken).ConfigureAwait(false);
            buffered.Position = 0;
            Downloaded.SetResult();
            await Release.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return Response.FromValue(BlobsModelFactory.BlobDownloadStreamingResult(buffered, response.Value.Details), response.GetRawResponse());
        }
    }

    /// <summary>Reads the blob in full, then runs <paramref name="afterRead"/> (which deletes it) before handing the content on.</summary>
    private sealed class DeletingBlobClient(string connectionString, string container, string name, Func<Task> afterRead)
        : BlobClient(connectionString, container, name, AzuriteInstance.ClientOptions())
    {
        public override async Task<Response<BlobDownloadStreamingResult>> DownloadStreamingAsync(BlobDownloadOptions? options = null, CancellationToken cancellationToken = default)
        {
            var response = await base.DownloadStreamingAsync(options, cancellationToken).ConfigureAwait(false);
            var buffered = new MemoryStream();
            await response.Value.Content.CopyToAsync(buffered, cancellationToken).ConfigureAwait(false);
            buffered.Position = 0;
            await afterRead().ConfigureAwait(false);
            return Response.FromValue(BlobsModelFactory.BlobDownloadStreamingResult(buffered, response.Value.Details), response.GetRawResponse());
        }
    }
}
