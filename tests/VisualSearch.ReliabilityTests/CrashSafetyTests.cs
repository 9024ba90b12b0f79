using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using VisualSearch.FunctionalTests.Infrastructure;
using VisualSearch.Imaging;
using VisualSearch.ReliabilityTests.Infrastructure;
using Xunit.Abstractions;

namespace VisualSearch.ReliabilityTests;

/// <summary>
/// kill -9 of the real <c>vsearch serve</c> while its watcher ingests a container of 200 images, twice, then a
/// restart: the index opens, every record the API showed before a kill is still there with the right content and a
/// usable vector, none is half-written, and ingestion completes.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class CrashSafetyTests(AzuriteInstance azurite, ITestOutputHelper output)
{
    private const int Images = 200;
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Kill9_during_ingestion_loses_no_acknowledged_record_and_ingestion_completes()
    {
        var container = await azurite.NewContainerAsync();
        var uploads = Enumerable.Range(0, Images).ToDictionary(i => $"img/{i:D3}.png", i => TestImages.Photo(9000 + i, 64, 64, ImageFormat.Png));
        await Parallel.ForEachAsync(uploads, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (u, ct) =>
            await container.GetBlobClient(u.Key).UploadAsync(new BinaryData(u.Value), ct));
        var hashes = uploads.ToDictionary(u => $"{container.Name}/{u.Key}", u => Convert.ToHexStringLower(SHA256.HashData(u.Value)));

        using var dir = new TempDirectory("vs-rel-crash-");
        var index = Path.Combine(dir.Path, "index");
        var environment = new Dictionary<string, string>
        {
            ["BlobSource__ConnectionString"] = azurite.ConnectionString,
            ["BlobSource__Container"] = container.Name,
            ["BlobSource__PollInterval"] = "00:00:00.200",
            ["BlobSource__MaxRetries"] = "1",
            ["Api__PermitsPerSecond"] = "0",
            ["LocalIndex__FlushToDisk"] = "true", // the default, stated: durability is what is under test
        };

        var acknowledged = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var killAt in new[] { 0.3, 0.7 })
        {
            await using var serve = await VsearchProcess.StartServeAsync(index, environment);
            var atStart = await serve.WaitUntilServingAsync(Startup);
            await AssertHoldsAsync(serve, acknowledged, hashes);

            var deadline = DateTime.UtcNow + Startup;
            long count;
            while ((count = await serve.TryCountAsync() ?? 0) < killAt * Images)
            {
                if (DateTime.UtcNow > deadline) Assert.Fail($"Ingestion did not reach {killAt:P0} ({count} of {Images}):\n{serve.Output}");
                await Task.Delay(50);
            }

            // What the API shows now was acknowledged (written and fsynced before it became visible).
            foreach (var (id, hash) in await PresentAsync(serve, hashes.Keys)) acknowledged[id] = hash;
            await serve.KillAsync();
            output.WriteLine($"kill -9 at {count} of {Images} indexed (started with {atStart}); {acknowledged.Count} records acknowledged so far");
            Assert.True(acknowledged.Count >= count, $"{acknowledged.Count} acknowledged < {count} counted");
            Assert.True(acknowledged.Count < Images, "Ingestion finished before the kill: the kill did not interrupt it.");
        }

        await using var final = await VsearchProcess.StartServeAsync(index, environment);
        await final.WaitUntilServingAsync(Startup);
        await AssertHoldsAsync(final, acknowledged, hashes);
        var end = DateTime.UtcNow + Startup;
        while (await final.TryCountAsync() != Images)
        {
            if (DateTime.UtcNow > end) Assert.Fail($"Ingestion did not complete after the restart ({await final.TryCountAsync()} of {Images}):\n{final.Output}");
            await Task.Delay(200);
        }

        // Every record: right content, a vector that scores (a NaN or torn vector could not be serialised).
        await AssertHoldsAsync(final, hashes, hashes);
        foreach (var i in new[] { 0, 99, 199 })
        {
            var name = $"img/{i:D3}.png";
            using var content = new ByteArrayContent(uploads[name]);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("image/png");
            using var search = await final.Client.PostAsync("/api/search?k=1", content);
            var top = (await Http.JsonAsync(search)).GetProperty("results")[0];
            Assert.Equal($"{container.Name}/{name}", top.GetProperty("id").GetString());
            Assert.True(top.GetProperty("score").GetSingle() > 0.999f);
        }

        await container.DeleteIfExistsAsync();
    }

    /// <summary>Ids the API shows as indexed right now, with the content hash it reports.</summary>
    private static async Task<IReadOnlyDictionary<string, string>> PresentAsync(VsearchProcess serve, IEnumerable<string> ids)
    {
        var present = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (id, ct) =>
        {
            using var response = await serve.Client.GetAsync($"/api/items/{id}", ct);
            if (response.StatusCode == HttpStatusCode.NotFound) return;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
            present[id] = json.RootElement.GetProperty("metadata").GetProperty("contentHash").GetString()!;
        });
        return present;
    }

    /// <summary>Every expected record is served with its content hash, and searching by its id works.</summary>
    private static async Task AssertHoldsAsync(VsearchProcess serve, IReadOnlyDictionary<string, string> expected, IReadOnlyDictionary<string, string> hashes)
    {
        var present = await PresentAsync(serve, expected.Keys);
        foreach (var (id, hash) in expected)
        {
            Assert.True(present.TryGetValue(id, out var served), $"{id} was acknowledged before the kill but is missing after the restart");
            Assert.Equal(hash, served);
            Assert.Equal(hashes[id], served);
        }

        await Parallel.ForEachAsync(expected.Keys, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (id, ct) =>
        {
            using var search = await serve.Client.GetAsync($"/api/search?k=3&id={Uri.EscapeDataString(id)}", ct);
            Assert.True(search.StatusCode == HttpStatusCode.OK, $"search by id {id}: {(int)search.StatusCode}");
        });
    }
}
