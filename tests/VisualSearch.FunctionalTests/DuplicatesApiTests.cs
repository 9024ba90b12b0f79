using System.Net;
using System.Text;
using System.Text.Json;
using VisualSearch.FunctionalTests.Infrastructure;

namespace VisualSearch.FunctionalTests;

/// <summary>GET /api/duplicates and POST /api/duplicates/decisions on the local host (real Kestrel, real model), each test on its own index.</summary>
public sealed class DuplicatesApiTests
{
    [Fact]
    public async Task Groups_an_exact_and_an_edited_copy_and_keep_deletes_the_others_at_their_source()
    {
        await using var host = await LocalHost.StartAsync();
        var chelsea = Repo.PhotoBytes("chelsea.png");
        var original = await UploadAsync(host, chelsea, "chelsea.png", "image/png");
        // The same bytes again: from another owner, since one owner's repeat upload is kept once (issue 20's dedupe, 200).
        var exact = await UploadAsync(host, chelsea, "chelsea-again.png", "image/png", "&owner=someone-else");
        var edited = await UploadAsync(host, TestImages.EditedCopy(chelsea), "chelsea-edited.jpg", "image/jpeg");
        foreach (var other in new[] { "astronaut.png", "coffee.png", "hubble_deep_field.jpg" })
            await UploadAsync(host, Repo.PhotoBytes(other), other, other.EndsWith(".png", StringComparison.Ordinal) ? "image/png" : "image/jpeg");

        using var response = await host.Client.GetAsync("/api/duplicates");
        var body = await Http.JsonAsync(response);
        Assert.Equal(1, body.GetProperty("total").GetInt32());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("nextCursor").ValueKind);
        var group = body.GetProperty("groups")[0];
        Assert.Equal("near", group.GetProperty("kind").GetString());
        var items = group.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()).ToList();
        Assert.Equal(new[] { original, exact, edited }.Order(StringComparer.Ordinal), items);
        Assert.All(group.GetProperty("items").EnumerateArray(), i => Assert.Equal(JsonValueKind.Object, i.GetProperty("metadata").ValueKind));
        var pairs = group.GetProperty("pairs").EnumerateArray().ToList();
        Assert.Equal(2, pairs.Count);
        Assert.Single(pairs, p => p.GetProperty("kind").GetString() == "exact" && p.GetProperty("score").GetSingle() == 1f);
        var near = Assert.Single(pairs, p => p.GetProperty("kind").GetString() == "near");
        Assert.InRange(near.GetProperty("score").GetSingle(), body.GetProperty("minScore").GetSingle(), 0.9999f);

        using var keep = await PostJsonAsync(host, new { items = new[] { original, exact, edited }, decision = "keep", keep = original, delete = true });
        var kept = await Http.JsonAsync(keep);
        Assert.Equal(original, kept.GetProperty("keep").GetString());
        foreach (var other in kept.GetProperty("others").EnumerateArray())
        {
            Assert.True(other.GetProperty("sourceDeleted").GetBoolean());
            Assert.True(other.GetProperty("recordRemoved").GetBoolean());
            using var item = await host.Client.GetAsync("/api/items/" + other.GetProperty("id").GetString());
            Assert.Equal(HttpStatusCode.NotFound, item.StatusCode);
            Assert.False(File.Exists(Path.Combine(host.IndexPath, other.GetProperty("id").GetString()!)));
        }

        Assert.True(File.Exists(Path.Combine(host.IndexPath, original)));
        using var after = await host.Client.GetAsync("/api/duplicates");
        Assert.Equal(0, (await Http.JsonAsync(after)).GetProperty("total").GetInt32());
        Assert.Equal(4, await host.CountAsync());
    }

    [Fact]
    public async Task Not_duplicates_splits_a_group_and_keep_without_delete_deletes_nothing()
    {
        await using var host = await LocalHost.StartAsync();
        var coffee = Repo.PhotoBytes("coffee.png");
        var a = await UploadAsync(host, coffee, "coffee.png", "image/png");
        var b = await UploadAsync(host, TestImages.EditedCopy(coffee), "coffee-edited.jpg", "image/jpeg");
        // An explicit threshold: this edit of this photo may score under the default.
        using (var before = await host.Client.GetAsync("/api/duplicates?minScore=0.6"))
            Assert.Equal(1, (await Http.JsonAsync(before)).GetProperty("total").GetInt32());

        using (var keep = await PostJsonAsync(host, new { items = new[] { a, b }, decision = "keep", keep = b }))
        {
            var other = Assert.Single((await Http.JsonAsync(keep)).GetProperty("others").EnumerateArray());
            Assert.Equal((a, false, false), (other.GetProperty("id").GetString(), other.GetProperty("sourceDeleted").GetBoolean(), other.GetProperty("recordRemoved").GetBoolean()));
        }

        Assert.Equal(2, await host.CountAsync());
        using (var decision = await PostJsonAsync(host, new { items = new[] { b, a }, decision = "not-duplicates" }))
            Assert.True((await Http.JsonAsync(decision)).GetProperty("recorded").GetBoolean());
        using var after = await host.Client.GetAsync("/api/duplicates?minScore=0.6");
        Assert.Equal(0, (await Http.JsonAsync(after)).GetProperty("total").GetInt32());
        Assert.True(File.Exists(Path.Combine(host.IndexPath, "duplicates", "decisions.jsonl")));
    }

    [Theory]
    [InlineData("?minScore=2")]
    [InlineData("?minScore=abc")]
    [InlineData("?minScore=NaN")]
    [InlineData("?limit=0")]
    [InlineData("?limit=501")]
    [InlineData("?limit=1.5")]
    [InlineData("?cursor=-1")]
    [InlineData("?cursor=next")]
    public async Task Bad_query_parameters_are_400_problems(string query)
    {
        await using var host = await LocalHost.StartAsync();
        using var response = await host.Client.GetAsync("/api/duplicates" + query);
        await Http.ProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{}")]
    [InlineData("""{"items":["a.jpg"],"decision":"not-duplicates"}""")]
    [InlineData("""{"items":["a.jpg","a.jpg"],"decision":"not-duplicates"}""")]
    [InlineData("""{"items":["a.jpg","b.jpg","c.jpg"],"decision":"not-duplicates"}""")]
    [InlineData("""{"items":["a.jpg","../b.jpg"],"decision":"not-duplicates"}""")]
    [InlineData("""{"items":["a.jpg","b.jpg"],"decision":"maybe"}""")]
    [InlineData("""{"items":["a.jpg","b.jpg"],"decision":"keep"}""")]
    [InlineData("""{"items":["a.jpg","b.jpg"],"decision":"keep","keep":"c.jpg"}""")]
    [InlineData("""{"items":["a.jpg","b.jpg"],"decision":"keep","keep":"a.jpg","delete":"yes"}""")]
    public async Task Bad_decisions_are_400_problems(string json)
    {
        await using var host = await LocalHost.StartAsync();
        using var response = await host.Client.PostAsync("/api/duplicates/decisions", new StringContent(json, Encoding.UTF8, "application/json"));
        await Http.ProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Keeping_an_unknown_item_is_404()
    {
        await using var host = await LocalHost.StartAsync();
        using var response = await PostJsonAsync(host, new { items = new[] { "a.jpg", "b.jpg" }, decision = "keep", keep = "a.jpg", delete = true });
        await Http.ProblemAsync(response, HttpStatusCode.NotFound);
    }

    private static async Task<string> UploadAsync(LocalHost host, byte[] bytes, string name, string contentType, string query = "")
    {
        using var response = await host.PostImageAsync("/api/images?name=" + Uri.EscapeDataString(name) + query, bytes, contentType);
        var item = await Http.JsonAsync(response, HttpStatusCode.Created);
        return item.GetProperty("id").GetString()!;
    }

    private static Task<HttpResponseMessage> PostJsonAsync(LocalHost host, object body) =>
        host.Client.PostAsync("/api/duplicates/decisions", new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"));
}
