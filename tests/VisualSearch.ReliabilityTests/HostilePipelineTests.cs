using System.Net;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.DependencyInjection;
using VisualSearch.Blobs;
using VisualSearch.FunctionalTests.Infrastructure;
using VisualSearch.Imaging;
using VisualSearch.ReliabilityTests.Infrastructure;

namespace VisualSearch.ReliabilityTests;

/// <summary>The hostile corpus through the HTTP search endpoint of the local host: 200 or a 4xx problem, never a 5xx.</summary>
public sealed class HostileSearchTests
{
    [Fact]
    public async Task Searching_with_each_hostile_file_answers_200_or_a_specific_4xx()
    {
        await using var host = await LocalHost.StartAsync(watch: false, new Dictionary<string, string?> { ["Api:PermitsPerSecond"] = "0" });
        await host.IngestPhotosAsync(["chelsea.png", "coffee.png"]);

        foreach (var hostile in HostileCorpus.All)
        {
            using var response = await host.PostImageAsync("/api/search?k=2", hostile.Bytes, DeclaredType(hostile.Name));
            var status = (int)response.StatusCode;
            Assert.True(status < 500, $"{hostile.Name}: {status} {await response.Content.ReadAsStringAsync()}");
            if (hostile.Indexed)
            {
                Assert.Equal(2, Http.ResultIds(await Http.JsonAsync(response)).Count);
                continue;
            }

            var expected = hostile.Reason switch
            {
                ImageRejectionReason.Empty => HttpStatusCode.BadRequest,
                ImageRejectionReason.UnsupportedFormat => HttpStatusCode.UnsupportedMediaType,
                ImageRejectionReason.TooLarge or ImageRejectionReason.TooManyPixels => HttpStatusCode.RequestEntityTooLarge,
                _ => HttpStatusCode.UnprocessableEntity,
            };
            var problem = await Http.ProblemAsync(response, expected);
            // The refusal names its reason (an empty body is refused before decoding, as "Empty body").
            if (hostile.Reason != ImageRejectionReason.Empty) Assert.Equal(hostile.Reason.ToString(), problem.GetProperty("reason").GetString());
        }
    }

    /// <summary>The type a client would declare from the file name (the server judges by the bytes).</summary>
    private static string DeclaredType(string name) => Path.GetExtension(name) switch
    {
        ".jpg" => "image/jpeg",
        ".png" => "image/png",
        ".gif" => "image/gif",
        ".webp" => "image/webp",
        _ => "application/octet-stream",
    };
}

/// <summary>The hostile corpus uploaded to a blob container with good photos, ingested by the local host's watcher.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class HostileUploadTests(AzuriteInstance azurite)
{
    [Fact]
    public async Task A_container_of_hostile_and_good_uploads_indexes_every_good_one_and_records_each_refusal()
    {
        var container = await azurite.NewContainerAsync();
        var good = HostileCorpus.GoodFiles(10);
        foreach (var (name, bytes) in good) await container.GetBlobClient("good/" + name).UploadAsync(new BinaryData(bytes));
        foreach (var hostile in HostileCorpus.All) await container.GetBlobClient("hostile/" + hostile.Name).UploadAsync(new BinaryData(hostile.Bytes));

        var settings = azurite.BlobSourceSettings(container.Name);
        settings["Api:PermitsPerSecond"] = "0";
        await using var host = await LocalHost.StartAsync(watch: true, settings);
        var expected = good.Count + HostileCorpus.All.Count(c => c.Indexed);
        await Http.EventuallyAsync(async () => await host.CountAsync() == expected, $"{expected} records", TimeSpan.FromSeconds(120));
        var watcher = host.Services.GetRequiredService<ContainerWatcher>();
        var passes = watcher.Passes + 2;
        await Http.EventuallyAsync(() => Task.FromResult(watcher.Passes >= passes), "two more watcher passes", TimeSpan.FromSeconds(60));
        Assert.Equal(expected, await host.CountAsync());

        foreach (var (name, _) in good)
        {
            using var item = await host.Client.GetAsync($"/api/items/{container.Name}/good/{name}");
            Assert.Equal(HttpStatusCode.OK, item.StatusCode);
        }

        foreach (var hostile in HostileCorpus.All)
        {
            using var item = await host.Client.GetAsync($"/api/items/{container.Name}/hostile/{Uri.EscapeDataString(hostile.Name)}");
            Assert.True((hostile.Indexed ? HttpStatusCode.OK : HttpStatusCode.NotFound) == item.StatusCode, $"{hostile.Name}: {item.StatusCode}");
            if (hostile.Indexed) continue;

            // The refusal is kept beside the blob, with its reason, for the client and the operator.
            var tags = (await container.GetBlobClient("hostile/" + hostile.Name).GetTagsAsync()).Value.Tags;
            Assert.True(tags.TryGetValue(RejectionTags.Reason, out var reason) && reason == hostile.Reason.ToString(),
                $"{hostile.Name}: tags {string.Join(", ", tags.Select(t => $"{t.Key}={t.Value}"))}");
        }

        await container.DeleteIfExistsAsync();
    }
}
