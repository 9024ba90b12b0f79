using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using VisualSearch.Functions;
using VisualSearch.Api;
using VisualSearch.Cli;
using VisualSearch.FunctionalTests.Infrastructure;
using VisualSearch.Ingestion;

namespace VisualSearch.FunctionalTests.Identity;

/// <summary>
/// The Functions classes, on the services the Functions app composes (FunctionsAppComposition.AddVisualSearchFunctionServices),
/// behind App Service authentication: the caller is the principal the platform passes in
/// X-MS-CLIENT-PRINCIPAL (Entra's long claim names), read into the same <see cref="Caller"/> as a local JWT; a
/// request without one has no caller; with Auth:AppService off the header is never trusted and no one is a caller.
/// Called directly, a handler without a caller fails closed (throws); the real worker answers 401 before it runs
/// (VisualSearch.Functions.HostTests, SignInTests).
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class AppServicePrincipalTests
{
    [Fact]
    public async Task Functions_scope_every_read_to_the_platforms_principal()
    {
        await using var host = await FunctionServices.StartAsync(appService: true);
        await IngestAsync(host);

        // A (Entra: oid in its long claim type) reads her item; B's reads like a missing one.
        var own = await GetItemAsync(host, $"{TestUser.A.Owner}/coffee.png", Principal(TestUser.A));
        Assert.Equal(200, own.Status);
        Assert.Equal(TestUser.A.Owner, JsonDocument.Parse(own.Body).RootElement.GetProperty("metadata").GetProperty("tags").GetProperty("owner").GetString());
        Assert.Equal(NotFound, (await GetItemAsync(host, $"{TestUser.B.Owner}/retina.jpg", Principal(TestUser.A))).Status);

        // B searches with A's photo: only B's items.
        var context = host.NewContext("POST", "/api/search?k=10", Repo.PhotoBytes("coffee.png"), "image/png");
        context.Request.Headers[AppServiceCallerResolver.PrincipalHeader] = Principal(TestUser.B);
        var found = await FunctionServices.ExecuteAsync(await host.Search.SearchByImage(context.Request, CancellationToken.None), context);
        Assert.Equal([$"{TestUser.B.Owner}/retina.jpg"], Http.ResultIds(JsonDocument.Parse(found.Body).RootElement));

        // The admin role sees both.
        Assert.Equal(200, (await GetItemAsync(host, $"{TestUser.B.Owner}/retina.jpg", Principal(TestUser.Admin))).Status);

        // No principal, or one that is not the platform's format: no caller, and the function fails closed.
        foreach (var header in new[] { null, "not base64!", Convert.ToBase64String(Encoding.UTF8.GetBytes("{\"claims\":[]}")) })
            await Assert.ThrowsAsync<InvalidOperationException>(() => GetItemAsync(host, $"{TestUser.A.Owner}/coffee.png", header));
    }

    [Fact]
    public async Task Functions_share_an_album_in_the_blob_store_and_its_member_reads_that_album_only()
    {
        var container = "albums-" + Guid.NewGuid().ToString("N")[..12];
        await using var host = await FunctionServices.StartAsync(appService: true, new() { ["AlbumShares:Container"] = container });
        try
        {
            await IngestAsync(host);
            var trip = $"{TestUser.A.Owner}/astronaut.png";
            var ingestion = host.Services.GetRequiredService<IngestionService>();
            var request = new IngestRequest { Id = trip, Source = "file", Name = trip, Owner = TestUser.A.Owner, Tags = new Dictionary<string, string> { ["album"] = "trip" } };
            Assert.Equal(IngestOutcome.Indexed, (await ingestion.IngestAsync(request, File.OpenRead(Repo.Photo("astronaut.png")))).Outcome);
            var albums = ActivatorUtilities.CreateInstance<AlbumsFunctions>(host.Services);

            // B cannot read A's trip before the share; A shares it (the owner is her principal), and the blob holds it.
            Assert.Equal(NotFound, (await GetItemAsync(host, trip, Principal(TestUser.B))).Status);
            var put = host.NewContext("PUT", "/api/albums/trip/members", JsonSerializer.SerializeToUtf8Bytes(new { members = new[] { TestUser.B.Owner } }), "application/json");
            put.Request.Headers[AppServiceCallerResolver.PrincipalHeader] = Principal(TestUser.A);
            Assert.Equal(200, (await FunctionServices.ExecuteAsync(await albums.SetAlbumMembers(put.Request, "trip", CancellationToken.None), put)).Status);
            var blobs = host.Services.GetRequiredService<Azure.Storage.Blobs.BlobServiceClient>();
            Assert.True((await blobs.GetBlobContainerClient(container).GetBlobClient("shares.json").ExistsAsync()).Value);

            Assert.Equal(200, (await GetItemAsync(host, trip, Principal(TestUser.B))).Status);
            Assert.Equal(NotFound, (await GetItemAsync(host, $"{TestUser.A.Owner}/coffee.png", Principal(TestUser.B))).Status);
            var list = host.NewContext("GET", "/api/albums");
            list.Request.Headers[AppServiceCallerResolver.PrincipalHeader] = Principal(TestUser.B);
            var listed = await FunctionServices.ExecuteAsync(await albums.GetAlbums(list.Request, CancellationToken.None), list);
            var shared = Assert.Single(JsonDocument.Parse(listed.Body).RootElement.GetProperty("sharedWithMe").EnumerateArray());
            Assert.Equal((TestUser.A.Owner, "trip"), (shared.GetProperty("owner").GetString(), shared.GetProperty("name").GetString()));
        }
        finally
        {
            await host.Services.GetRequiredService<Azure.Storage.Blobs.BlobServiceClient>().GetBlobContainerClient(container).DeleteIfExistsAsync();
        }
    }

    [Fact]
    public async Task Without_App_Service_authentication_the_header_is_never_trusted_and_no_one_is_a_caller()
    {
        await using var host = await FunctionServices.StartAsync(appService: false);
        await IngestAsync(host);

        // No single user who sees everything (a deployment without Easy Auth serves no one's photos): a forged
        // principal, even the admin's, and no principal alike find no caller, and the handler fails closed.
        var resolver = host.Services.GetRequiredService<ICallerResolver>();
        foreach (var header in new[] { null, Principal(TestUser.A), Principal(TestUser.Admin) })
        {
            var context = host.NewContext("GET", $"/api/items/{TestUser.B.Owner}/retina.jpg");
            if (header is not null) context.Request.Headers[AppServiceCallerResolver.PrincipalHeader] = header;
            Assert.Null(resolver.Resolve(context));
            await Assert.ThrowsAsync<InvalidOperationException>(() => GetItemAsync(host, $"{TestUser.B.Owner}/retina.jpg", header));
        }
    }

    [Fact]
    public void The_principal_header_is_read_into_the_same_caller_as_a_token()
    {
        Assert.Equal(Caller.SignedIn(TestUser.A.Owner), Caller.FromPrincipal(AppServiceCallerResolver.ReadPrincipal(Principal(TestUser.A))));
        Assert.Equal(Caller.SignedIn(TestUser.B.Owner), Caller.FromPrincipal(AppServiceCallerResolver.ReadPrincipal(Principal(TestUser.B))));
        Assert.Equal(Caller.SignedIn(TestUser.Admin.Owner, isAdmin: true), Caller.FromPrincipal(AppServiceCallerResolver.ReadPrincipal(Principal(TestUser.Admin))));
        Assert.Null(AppServiceCallerResolver.ReadPrincipal(new string('A', AppServiceCallerResolver.MaxPrincipalLength + 4)));
    }

    private const int NotFound = (int)HttpStatusCode.NotFound;

    private static async Task IngestAsync(FunctionServices host)
    {
        var ingestion = host.Services.GetRequiredService<IngestionService>();
        Assert.Equal(IngestOutcome.Indexed, (await ingestion.IngestFileAsync(Repo.Photo("coffee.png"), $"{TestUser.A.Owner}/coffee.png", owner: TestUser.A.Owner)).Outcome);
        Assert.Equal(IngestOutcome.Indexed, (await ingestion.IngestFileAsync(Repo.Photo("retina.jpg"), $"{TestUser.B.Owner}/retina.jpg", owner: TestUser.B.Owner)).Outcome);
    }

    private static async Task<(int Status, string Body)> GetItemAsync(FunctionServices host, string id, string? principal)
    {
        var context = host.NewContext("GET", "/api/items/" + id);
        if (principal is not null) context.Request.Headers[AppServiceCallerResolver.PrincipalHeader] = principal;
        return await FunctionServices.ExecuteAsync(await host.Search.GetItem(context.Request, id, CancellationToken.None), context);
    }

    /// <summary>X-MS-CLIENT-PRINCIPAL as App Service writes it for an Entra access token.</summary>
    private static string Principal(TestUser user) => AppServicePrincipal.For(user);
}

/// <summary>The Functions app's services as Program.cs composes them, on a generic host, with SearchFunctions built from them.</summary>
internal sealed class FunctionServices : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly TempDirectory _index;

    private FunctionServices(IHost host, TempDirectory index)
    {
        _host = host;
        _index = index;
        Search = ActivatorUtilities.CreateInstance<SearchFunctions>(host.Services);
    }

    public IServiceProvider Services => _host.Services;

    public SearchFunctions Search { get; }

    public static async Task<FunctionServices> StartAsync(bool appService, Dictionary<string, string?>? settings = null)
    {
        var index = new TempDirectory("vs-ft-fn-auth-");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["LocalIndex:Path"] = index.Path,
            ["LocalIndex:FlushToDisk"] = "false",
            ["VectorIndex:Provider"] = "Local",
            ["BlobSource:ConnectionString"] = AzuriteFixture.ConnectionString,
            ["Auth:AppService"] = appService ? "true" : "false",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        if (settings is not null) builder.Configuration.AddInMemoryCollection(settings);
        builder.AddVisualSearchFunctionServices();
        var host = builder.Build();
        await host.StartAsync();
        return new FunctionServices(host, index);
    }

    /// <summary>An HTTP request as the Functions ASP.NET Core integration hands it to a function.</summary>
    public HttpContext NewContext(string method, string pathAndQuery, byte[]? body = null, string? contentType = null)
    {
        var context = new DefaultHttpContext { RequestServices = Services };
        var q = pathAndQuery.IndexOf('?', StringComparison.Ordinal);
        context.Request.Method = method;
        context.Request.Path = q < 0 ? pathAndQuery : pathAndQuery[..q];
        if (q >= 0) context.Request.QueryString = new QueryString(pathAndQuery[q..]);
        if (body is not null)
        {
            context.Request.Body = new MemoryStream(body);
            context.Request.ContentLength = body.Length;
        }

        context.Request.ContentType = contentType;
        context.Response.Body = new MemoryStream();
        return context;
    }

    public static async Task<(int Status, string Body)> ExecuteAsync(IActionResult result, HttpContext context)
    {
        await result.ExecuteResultAsync(new ActionContext(context, new RouteData(), new ActionDescriptor()));
        return (context.Response.StatusCode, Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray()));
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
        _index.Dispose();
    }
}
