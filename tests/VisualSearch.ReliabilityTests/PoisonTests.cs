using System.Reflection;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Microsoft.Azure.Functions.Worker;
using VisualSearch.Blobs;
using VisualSearch.Functions;
using VisualSearch.Imaging;
using VisualSearch.ReliabilityTests.Infrastructure;

namespace VisualSearch.ReliabilityTests;

/// <summary>
/// The blob trigger's contract with the Functions runtime (host.json: retries, then the poison queue): a permanently
/// bad image is not an error of the function. It is logged with its reason once, recorded in the blob's index tags,
/// and the function returns, so it is never retried nor poisoned. Only a transient failure throws, and is retried.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class PoisonTests(AzuriteInstance azurite)
{
    [Fact]
    public async Task A_permanently_bad_image_is_logged_and_recorded_once_and_does_not_throw()
    {
        var container = await azurite.NewContainerAsync();
        await using var host = await PipelineHost.StartAsync(azurite.BlobSourceSettings(container.Name));
        var jpeg = TestImages.Photo(77, 300, 200, ImageFormat.Jpeg);
        await container.GetBlobClient("cut.jpg").UploadAsync(new BinaryData(jpeg[..(jpeg.Length / 2)]));
        var blob = host.Blobs.GetBlobContainerClient(container.Name).GetBlobClient("cut.jpg");

        // The trigger fires three times for the same version (duplicate events, a redelivery): no exception each time.
        for (var i = 0; i < 3; i++) await host.Ingest.IngestImage(blob, CancellationToken.None);

        var rejected = host.Logs.WithEventId(12);
        var line = Assert.Single(rejected);
        Assert.Contains($"{container.Name}/cut.jpg: Truncated:", line.Message, StringComparison.Ordinal);
        Assert.Equal(2, host.Logs.WithEventId(302).Count); // the later deliveries: "refused before", dropped
        var tags = (await blob.GetTagsAsync()).Value.Tags;
        Assert.Equal("Truncated", tags[RejectionTags.Reason]);
        Assert.Equal(0, await host.CountAsync());

        // A fixed upload under the same name is a new version: indexed.
        await container.GetBlobClient("cut.jpg").UploadAsync(new BinaryData(jpeg), overwrite: true);
        await host.Ingest.IngestImage(blob, CancellationToken.None);
        Assert.Equal(1, await host.CountAsync());
        await container.DeleteIfExistsAsync();
    }

    [Fact]
    public async Task A_transient_storage_failure_throws_so_the_runtime_retries_then_poisons()
    {
        var container = await azurite.NewContainerAsync();
        await using var host = await PipelineHost.StartAsync(azurite.BlobSourceSettings(container.Name));
        // Storage unreachable: a blob on a port where nothing listens.
        var unreachable = new BlobClient(AzuriteInstance.ConnectionStringFor(AzuriteInstance.FreePort()), container.Name, "photo.jpg", AzuriteInstance.ClientOptions());

        var ex = await Record.ExceptionAsync(() => host.Ingest.IngestImage(unreachable, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60)));

        Assert.True(ex is RequestFailedException or AggregateException or HttpRequestException, $"Expected a storage failure, got {ex?.GetType().Name ?? "none"}: {ex?.Message}");
        Assert.Empty(host.Logs.WithEventId(12));
        await container.DeleteIfExistsAsync();
    }

    [Fact]
    public void Host_json_configures_the_retry_count_before_the_poison_queue()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repo.Root, "functions", "VisualSearch.Functions", "host.json")));
        var blobs = json.RootElement.GetProperty("extensions").GetProperty("blobs");
        Assert.InRange(blobs.GetProperty("poisonBlobThreshold").GetInt32(), 1, 10);
        Assert.InRange(blobs.GetProperty("maxDegreeOfParallelism").GetInt32(), 1, 16);
        Assert.True(TimeSpan.TryParse(json.RootElement.GetProperty("functionTimeout").GetString(), System.Globalization.CultureInfo.InvariantCulture, out var timeout));
        Assert.InRange(timeout, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(10));

        var docs = File.ReadAllText(Path.Combine(Repo.Root, "docs", "reliability.md"));
        Assert.Contains("poisonBlobThreshold", docs, StringComparison.Ordinal);
        Assert.Contains("webjobs-blobtrigger-poison", docs, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_http_function_needs_a_function_key_except_health_and_the_page()
    {
        var triggers = typeof(SearchFunctions).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance))
            .Select(m => (Method: m, Function: m.GetCustomAttribute<FunctionAttribute>(), Trigger: m.GetParameters().Select(p => p.GetCustomAttribute<HttpTriggerAttribute>()).FirstOrDefault(a => a is not null)))
            .Where(x => x.Function is not null && x.Trigger is not null)
            .ToList();
        Assert.Contains(triggers, t => t.Function!.Name == "SearchByImage");

        foreach (var (method, function, trigger) in triggers)
        {
            var anonymousByDesign = function!.Name == "Health" || (trigger!.Route?.StartsWith("app", StringComparison.Ordinal) ?? false);
            var expected = anonymousByDesign ? AuthorizationLevel.Anonymous : AuthorizationLevel.Function;
            Assert.True(expected == trigger!.AuthLevel, $"{method.DeclaringType!.Name}.{method.Name} ({function.Name}, route {trigger.Route}) is {trigger.AuthLevel}");
        }
    }
}
