using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using VisualSearch.BrowserTests.Infrastructure;

namespace VisualSearch.BrowserTests;

/// <summary>
/// The Duplicates view on a host with sign-in (the test OpenID issuer), in Debian's chromium as user A with her bearer
/// token on every request (browser/duplicates-signed-in.spec.mjs): A and B each have a photo and an exact copy of it;
/// the page shows A's group only, loads its thumbnails, and records "Not duplicates" for A, which leaves B's group as it was.
/// </summary>
public sealed class DuplicatesSignedInBrowserTests
{
    [Fact]
    public async Task A_signed_in_user_sees_and_decides_about_her_own_duplicates_only()
    {
        Assert.True(File.Exists("/usr/bin/chromium"), "/usr/bin/chromium is missing: the browser test needs Debian's chromium.");
        await using var issuer = await TestIssuer.StartAsync();
        await using var host = await PageHost.StartAsync(Repo.Photos, [], issuer.HostSettings());
        await host.IngestAsync(Repo.Photos, ["chelsea.png"], TestUser.A.Owner);
        await host.IngestAsync(Repo.Photos, ["coffee.png"], TestUser.B.Owner);
        var copyOfA = await UploadAsync(host, issuer.Token(TestUser.A), "chelsea.png");
        var copyOfB = await UploadAsync(host, issuer.Token(TestUser.B), "coffee.png");
        Assert.Equal(1, await GroupCountAsync(host, issuer.Token(TestUser.B)));

        var script = Path.Combine(Repo.Root, "tests", "VisualSearch.BrowserTests", "browser", "duplicates-signed-in.spec.mjs");
        var (exitCode, output) = await NodeScript.RunAsync(script,
            [host.BaseAddress.ToString(), issuer.Token(TestUser.A), $"chelsea.png,{copyOfA}", $"coffee.png,{copyOfB}"], TimeSpan.FromMinutes(3));

        Assert.True(exitCode == 0, $"duplicates-signed-in.spec.mjs failed (exit code {exitCode}):\n{output}");
        Assert.Equal(0, await GroupCountAsync(host, issuer.Token(TestUser.A)));
        Assert.Equal(1, await GroupCountAsync(host, issuer.Token(TestUser.B)));
    }

    private static async Task<string> UploadAsync(PageHost host, string token, string photo)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/images?name=" + Uri.EscapeDataString(photo)) { Content = new ByteArrayContent(Repo.PhotoBytes(photo)) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await host.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        using var item = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return item.RootElement.GetProperty("id").GetString()!;
    }

    private static async Task<int> GroupCountAsync(PageHost host, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/duplicates");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await host.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("total").GetInt32();
    }
}
