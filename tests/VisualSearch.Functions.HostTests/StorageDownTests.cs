using VisualSearch.Functions.HostTests.Harness;
using VisualSearch.Functions.HostTests.Infrastructure;
using VisualSearch.Functions.HostTests.Rpc;

namespace VisualSearch.Functions.HostTests;

/// <summary>
/// A transient storage failure is the one thing IngestImage must fail on, so that the platform retries it (host.json's
/// poisonBlobThreshold, then the poison queue): the worker's storage (an Azurite of this test's own, on a free port)
/// is stopped between the upload and the trigger, and the InvocationResponse reports the failure.
/// </summary>
public sealed class StorageDownTests
{
    [Fact]
    public async Task IngestImage_fails_when_storage_is_unreachable_so_the_host_retries()
    {
        Assert.True(File.Exists(AzuriteProcess.Bin), $"{AzuriteProcess.Bin} is missing: run `npm ci` in {Repo.Root}.");
        var port = AzuriteProcess.FreePort();
        var azurite = AzuriteProcess.Start(port, "vs-ht-down-");
        using var index = new TempDirectory("vs-ht-down-index-");
        try
        {
            Assert.True(await azurite.WaitUntilListeningAsync(TimeSpan.FromSeconds(30)), $"Azurite did not listen on {port}:\n{azurite.Output()}");
            var connection = AzuriteProcess.ConnectionStringFor(port);
            var images = new Azure.Storage.Blobs.BlobContainerClient(connection, "images", AzuriteProcess.ClientOptions());
            await images.CreateAsync();
            await images.GetBlobClient("down/photo.jpg").UploadAsync(new BinaryData(Repo.PhotoBytes("hubble_deep_field.jpg")));

            await using var worker = await FunctionsHostHarness.StartAsync(WorkerFixture.Settings(connection, index.Path));
            var up = await worker.InvokeBlobTriggerAsync("IngestImage", "down/photo.jpg");
            Assert.True(up.Result.Status == StatusResult.Types.Status.Success, up.Result.Exception?.Message);

            await images.GetBlobClient("down/photo2.jpg").UploadAsync(new BinaryData(Repo.PhotoBytes("retina.jpg")));
            await azurite.DisposeAsync(); // storage goes away
            var down = await worker.InvokeBlobTriggerAsync("IngestImage", "down/photo2.jpg");

            Assert.Equal(StatusResult.Types.Status.Failure, down.Result.Status);
            Assert.False(string.IsNullOrEmpty(down.Result.Exception?.Message));
            // Nothing was recorded for the failed delivery: the item indexed before is still the only one.
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/health/details");
            using var health = await worker.SendAsync(request.SignedIn(TestUser.Admin));
            Assert.Equal(1, (await health.JsonAsync()).GetProperty("count").GetInt64());
        }
        finally
        {
            await azurite.DisposeAsync();
        }
    }
}
