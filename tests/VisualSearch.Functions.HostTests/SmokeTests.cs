using VisualSearch.Functions.HostTests.Harness;

namespace VisualSearch.Functions.HostTests;

public sealed class SmokeTests
{
    [Fact]
    public async Task Starts()
    {
        using var index = new TempDirectory("vs-ht-");
        await using var h = await FunctionsHostHarness.StartAsync(new Dictionary<string, string?> { ["LocalIndex:Path"] = index.Path, ["ImagesStorage"] = "UseDevelopmentStorage=true", ["BlobSource:ConnectionString"] = "UseDevelopmentStorage=true" });
        foreach (var f in h.Functions.Values) Console.WriteLine($"{f.Name} {f.Id} {string.Join(" | ", f.Metadata.RawBindings)} props={f.Metadata.Properties}");
        Console.WriteLine(h.Init);
        using var r = await h.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/health"));
        Console.WriteLine($"{r.Status} {await r.Response.Content.ReadAsStringAsync()} {r.Invocation}");
        Console.WriteLine(h.Output());
    }
}
