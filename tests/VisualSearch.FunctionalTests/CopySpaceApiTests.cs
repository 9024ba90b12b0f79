using Microsoft.Extensions.DependencyInjection;
using VisualSearch.FunctionalTests.Infrastructure;
using VisualSearch.Ingestion;

namespace VisualSearch.FunctionalTests;

/// <summary>
/// Issue 14's dual design through the local host (real Kestrel, the real ResNet18 three times: the centre crop, the
/// feature map and its detail regions) with the default settings (<c>Encoder__CopyDescriptor=FeatureMap</c> since session
/// 11): the search API's <c>space</c>, <c>cutoff=auto</c> in the copy space, the health details, duplicates at the copy
/// threshold, and a removal from both spaces; and a host with <c>Encoder__CopyDescriptor=None</c>.
/// </summary>
public sealed class CopySpaceApiTests
{
    private static readonly string[] Photos = ["chelsea.png", "coffee.png", "astronaut.png", "hubble_deep_field.jpg"];

    [Fact]
    public async Task The_default_copy_space_answers_space_copies_and_cutoff_auto_and_the_category_space_the_rest()
    {
        // No encoder settings: the shipped default.
        await using var host = await LocalHost.StartAsync();
        await host.IngestPhotosAsync(Photos);
        var edited = TestImages.EditedCopy(Repo.PhotoBytes("chelsea.png"));

        using var health = await host.Client.GetAsync("/api/health");
        var details = await Http.JsonAsync(health);
        var categoryModel = details.GetProperty("model").GetString()!;
        var copies = details.GetProperty("copies");
        var copyModel = copies.GetProperty("model").GetString()!;
        Assert.Matches("^resnet18-[0-9a-f]{12}-512$", categoryModel);
        Assert.Matches("^resnet18-[0-9a-f]{12}-map-gem3-s224-flat-dr448c3-4n60-512$", copyModel);
        Assert.Equal(Photos.Length, details.GetProperty("count").GetInt64());
        Assert.Equal(Photos.Length, copies.GetProperty("count").GetInt64());
        // One directory per space's model under the index root, the pointer naming the category model.
        Assert.Equal(new[] { categoryModel, copyModel }.Order(StringComparer.Ordinal), Directory.GetDirectories(host.IndexPath).Select(Path.GetFileName).Where(n => n!.StartsWith("resnet18-", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.Equal(categoryModel, File.ReadAllText(Path.Combine(host.IndexPath, "CURRENT")).Trim());

        using (var response = await host.PostImageAsync("/api/search?space=copies", edited))
        {
            var body = await Http.JsonAsync(response);
            Assert.Equal(("copies", copyModel), (body.GetProperty("space").GetString(), body.GetProperty("model").GetString()));
            Assert.Equal("chelsea.png", Http.ResultIds(body)[0]);
            Assert.Equal(Photos.Length, Http.ResultIds(body).Count);
        }

        using (var response = await host.PostImageAsync("/api/search?cutoff=auto", edited))
        {
            var body = await Http.JsonAsync(response);
            Assert.Equal("copies", body.GetProperty("space").GetString());
            Assert.Equal(["chelsea.png"], Http.ResultIds(body));
        }

        foreach (var query in new[] { "", "?space=category", "?space=category&cutoff=auto" })
        {
            using var response = await host.PostImageAsync("/api/search" + query, edited);
            var body = await Http.JsonAsync(response);
            Assert.Equal(("category", categoryModel), (body.GetProperty("space").GetString(), body.GetProperty("model").GetString()));
            Assert.Equal("chelsea.png", Http.ResultIds(body)[0]);
        }

        using (var byId = await host.Client.GetAsync("/api/search?id=chelsea.png&space=copies&k=2"))
        {
            var body = await Http.JsonAsync(byId);
            Assert.Equal("copies", body.GetProperty("space").GetString());
            Assert.Equal(2, Http.ResultIds(body).Count);
            Assert.DoesNotContain("chelsea.png", Http.ResultIds(body));
        }

        using (var bad = await host.PostImageAsync("/api/search?space=copy", edited))
            await Http.ProblemAsync(bad, System.Net.HttpStatusCode.BadRequest);

        // Duplicates are grouped in the copy space, at its own default threshold.
        using (var duplicates = await host.Client.GetAsync("/api/duplicates"))
            Assert.Equal(0.83f, (await Http.JsonAsync(duplicates)).GetProperty("minScore").GetSingle());

        // A removal takes the item out of both spaces.
        Assert.True(await host.Services.GetRequiredService<IngestionService>().RemoveAsync("coffee.png"));
        using var after = await host.Client.GetAsync("/api/health");
        var afterBody = await Http.JsonAsync(after);
        Assert.Equal(Photos.Length - 1, afterBody.GetProperty("count").GetInt64());
        Assert.Equal(Photos.Length - 1, afterBody.GetProperty("copies").GetProperty("count").GetInt64());
        using var gone = await host.PostImageAsync("/api/search?space=copies", Repo.PhotoBytes("coffee.png"), "image/png");
        Assert.DoesNotContain("coffee.png", Http.ResultIds(await Http.JsonAsync(gone)));
    }

    [Fact]
    public async Task A_host_without_a_copy_space_reports_none_and_searches_the_category_space()
    {
        await using var host = await LocalHost.StartAsync(overrides: new Dictionary<string, string?> { ["Encoder:CopyDescriptor"] = "None" });
        await host.IngestPhotosAsync(Photos[..2]);
        using var health = await host.Client.GetAsync("/api/health");
        Assert.False((await Http.JsonAsync(health)).TryGetProperty("copies", out _));
        using var response = await host.PostImageAsync("/api/search?cutoff=auto", TestImages.EditedCopy(Repo.PhotoBytes("chelsea.png")));
        // The answer is as before the dual design: no space named, the category model's results.
        var body = await Http.JsonAsync(response);
        Assert.False(body.TryGetProperty("space", out _));
        Assert.Equal(["chelsea.png"], Http.ResultIds(body));
    }
}
