using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using VisualSearch.Api;
using VisualSearch.BrowserTests.Infrastructure;
using VisualSearch.Functions;
using VisualSearch.Ingestion;
using VisualSearch.Search;

namespace VisualSearch.BrowserTests;

/// <summary>
/// The Functions host's page functions, called directly: the page at /api/app/ (anonymous, no upload), and the
/// images it shows. Services come from a local host over the same engine.
/// </summary>
public sealed class FunctionsPageTests : IAsyncLifetime
{
    private PageHost _host = null!;
    private PageFunctions _functions = null!;

    public async Task InitializeAsync()
    {
        _host = await PageHost.StartAsync(Repo.Photos, ["chelsea.png"]);
        _functions = new PageFunctions(_host.Services.GetRequiredService<SearchService>(), _host.Services.GetRequiredService<ItemImageService>(), _host.Services.GetRequiredService<IngestionService>(),
            _host.Services.GetRequiredService<IOptions<PageSignInOptions>>());
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public void The_bare_app_path_redirects_to_the_folder_keeping_the_function_key()
    {
        var request = Request("/api/app", "?code=secret");
        var redirect = Assert.IsType<RedirectResult>(_functions.Page(request, null));
        Assert.Equal("/api/app/?code=secret", redirect.Url);
        Assert.False(redirect.Permanent);
    }

    [Fact]
    public async Task The_page_files_are_served_and_uploading_is_not_offered()
    {
        var page = Request("/api/app/");
        var (status, type, body, headers) = await ExecuteAsync(page, _functions.Page(page, ""));
        Assert.Equal(StatusCodes.Status200OK, status);
        Assert.StartsWith("text/html", type, StringComparison.Ordinal);
        Assert.Contains("app.js", System.Text.Encoding.UTF8.GetString(body), StringComparison.Ordinal);
        Assert.Contains("default-src 'none'", headers.ContentSecurityPolicy.ToString(), StringComparison.Ordinal);

        var script = Request("/api/app/app.js");
        (status, type, _, _) = await ExecuteAsync(script, _functions.Page(script, "app.js"));
        Assert.Equal((200, "text/javascript; charset=utf-8"), (status, type));

        var configRequest = Request("/api/app/config.json");
        (status, _, body, _) = await ExecuteAsync(configRequest, _functions.Page(configRequest, "config.json"));
        Assert.Equal(200, status);
        using var config = JsonDocument.Parse(body);
        Assert.False(config.RootElement.GetProperty("upload").GetBoolean());

        var other = Request("/api/app/secrets.txt");
        (status, _, _, _) = await ExecuteAsync(other, _functions.Page(other, "secrets.txt"));
        Assert.Equal(404, status);
    }

    [Fact]
    public async Task With_a_page_client_id_the_page_signs_in_with_msal_from_this_host()
    {
        Assert.Equal(JsonValueKind.Null, (await ConfigAsync(_functions)).GetProperty("signIn").ValueKind);

        var signIn = new PageSignInOptions { Authority = "https://login.microsoftonline.com/tenant-id/v2.0", ClientId = "page-client", Scope = "api://api-client/access_as_user" };
        var functions = new PageFunctions(_host.Services.GetRequiredService<SearchService>(), _host.Services.GetRequiredService<ItemImageService>(),
            _host.Services.GetRequiredService<IngestionService>(), Options.Create(signIn));
        var config = (await ConfigAsync(functions)).GetProperty("signIn");
        Assert.Equal(("https://login.microsoftonline.com/tenant-id/v2.0", "page-client", "api://api-client/access_as_user"),
            (config.GetProperty("authority").GetString(), config.GetProperty("clientId").GetString(), config.GetProperty("scope").GetString()));

        var page = Request("/api/app/");
        var (_, _, _, headers) = await ExecuteAsync(page, functions.Page(page, ""));
        Assert.Contains("connect-src 'self' https://login.microsoftonline.com;", headers.ContentSecurityPolicy.ToString(), StringComparison.Ordinal);

        var msal = Request("/api/app/" + PageApi.MsalFile);
        var (status, type, body, _) = await ExecuteAsync(msal, functions.Page(msal, PageApi.MsalFile));
        Assert.Equal((200, "text/javascript; charset=utf-8"), (status, type));
        Assert.StartsWith(Repo.MsalBanner(), System.Text.Encoding.UTF8.GetString(body), StringComparison.Ordinal);
    }

    private async Task<JsonElement> ConfigAsync(PageFunctions functions)
    {
        var request = Request("/api/app/config.json");
        var (status, _, body, _) = await ExecuteAsync(request, functions.Page(request, "config.json"));
        Assert.Equal(200, status);
        using var config = JsonDocument.Parse(body);
        return config.RootElement.Clone();
    }

    [Fact]
    public async Task Thumbnails_and_originals_are_served_with_caching_headers()
    {
        var thumbnail = Request("/api/thumbnails/chelsea.png", "?size=64");
        var (status, type, body, headers) = await ExecuteAsync(thumbnail, await _functions.GetThumbnail(thumbnail, "chelsea.png", CancellationToken.None));
        Assert.Equal((200, "image/jpeg"), (status, type));
        Assert.True(body.Length > 500);
        // Every caller of the Functions host is a signed-in person: their photos are never kept in a shared cache.
        Assert.Equal("private, max-age=86400", headers.CacheControl.ToString());
        Assert.Equal("Authorization", headers.Vary.ToString());
        Assert.False(string.IsNullOrEmpty(headers.ETag.ToString()));

        var original = Request("/api/images/chelsea.png");
        (status, type, body, _) = await ExecuteAsync(original, await _functions.GetImage(original, "chelsea.png", CancellationToken.None));
        Assert.Equal((200, "image/png"), (status, type));
        Assert.Equal(await File.ReadAllBytesAsync(Repo.Photo("chelsea.png")), body);
    }

    private HttpRequest Request(string path, string query = "")
    {
        var context = new DefaultHttpContext { RequestServices = _host.Services };
        context.Request.Method = "GET";
        context.Request.Path = path;
        context.Request.QueryString = new QueryString(query);
        context.Response.Body = new MemoryStream();
        // The caller as the Functions host finds it behind App Service authentication (SignedInCallerMiddleware): the
        // validated principal the platform passes, here the admin's (the sample photos have no owner).
        context.Request.Headers[AppServicePrincipal.Header] = AppServicePrincipal.For(TestUser.Admin);
        Caller.Set(context, new AppServiceCallerResolver(Options.Create(new AppServiceAuthOptions { AppService = true })).Resolve(context)!);
        return context.Request;
    }

    private static async Task<(int Status, string? ContentType, byte[] Body, IHeaderDictionary Headers)> ExecuteAsync(HttpRequest request, IActionResult result)
    {
        var context = request.HttpContext;
        await result.ExecuteResultAsync(new ActionContext(context, new RouteData(), new ActionDescriptor()));
        var body = ((MemoryStream)context.Response.Body).ToArray();
        return (context.Response.StatusCode, context.Response.ContentType, body, context.Response.Headers);
    }
}
