using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VisualSearch.Blobs;
using VisualSearch.Functions;
using VisualSearch.Imaging;
using VisualSearch.Index.Local;
using VisualSearch.Search;

namespace VisualSearch.FunctionalTests.Infrastructure;

/// <summary>
/// The Functions host's composition (Program.cs: engine, local index, blob ingestion without the watcher)
/// on a plain generic host, so that the function classes can be constructed and called directly.
/// </summary>
internal sealed class FunctionsHost : IAsyncDisposable
{
    private readonly TempDirectory _index;

    private FunctionsHost(IHost host, TempDirectory index)
    {
        Host = host;
        _index = index;
        Search = new SearchFunctions(Services.GetRequiredService<SearchService>(), Services.GetRequiredService<IOptions<ImagingOptions>>());
        Ingest = new IngestFunctions(Services.GetRequiredService<BlobIngestor>(), Services.GetRequiredService<ILogger<IngestFunctions>>());
        Uploads = new UploadFunctions(Services.GetRequiredService<VisualSearch.Api.IUploadStore>(), Services.GetRequiredService<SearchService>(), Services.GetRequiredService<IOptions<ImagingOptions>>());
    }

    public IHost Host { get; }

    public IServiceProvider Services => Host.Services;

    public SearchFunctions Search { get; }

    public IngestFunctions Ingest { get; }

    public UploadFunctions Uploads { get; }

    public static async Task<FunctionsHost> StartAsync(IDictionary<string, string?>? overrides = null)
    {
        var index = new TempDirectory("vs-ft-fn-index-");
        try
        {
            var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
            var settings = new Dictionary<string, string?>
            {
                [$"{LocalIndexOptions.SectionName}:Path"] = index.Path,
                [$"{LocalIndexOptions.SectionName}:FlushToDisk"] = "false",
                [$"{BlobSourceOptions.SectionName}:ConnectionString"] = "UseDevelopmentStorage=true",
                [$"{BlobSourceOptions.SectionName}:MaxRetries"] = "1",
                ["Logging:LogLevel:Default"] = "Warning",
            };
            if (overrides is not null) foreach (var (k, v) in overrides) settings[k] = v;
            builder.Configuration.AddInMemoryCollection(settings);
            builder.AddVisualSearchEngine();
            builder.AddLocalVectorIndex();
            builder.AddBlobIngestion(watch: false);
            builder.AddBlobUploads(allowAccountKeySigning: false);
            var host = builder.Build();
            await host.StartAsync().ConfigureAwait(false);
            return new FunctionsHost(host, index);
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    /// <summary>An HTTP request as the Functions ASP.NET Core integration hands it to a function.</summary>
    public HttpContext NewContext(string method, string pathAndQuery = "/", byte[]? body = null, string? contentType = null)
    {
        var context = new DefaultHttpContext { RequestServices = Services };
        var q = pathAndQuery.IndexOf('?', StringComparison.Ordinal);
        context.Request.Method = method;
        context.Request.Scheme = "http";
        context.Request.Host = new HostString("localhost");
        context.Request.Path = q < 0 ? pathAndQuery : pathAndQuery[..q];
        if (q >= 0) context.Request.QueryString = new QueryString(pathAndQuery[q..]);
        if (body is not null)
        {
            context.Request.Body = new MemoryStream(body);
            context.Request.ContentLength = body.Length;
        }

        if (contentType is not null) context.Request.ContentType = contentType;
        context.Response.Body = new MemoryStream();
        return context;
    }

    public HttpContext NewJsonContext(string method, string path, string json) =>
        NewContext(method, path, Encoding.UTF8.GetBytes(json), "application/json");

    /// <summary>Executes a function's result as the Functions host would, and reads the response.</summary>
    public static async Task<FunctionResponse> ExecuteAsync(IActionResult result, HttpContext context)
    {
        var actionResult = Assert.IsType<ResultActionResult>(result);
        await actionResult.ExecuteResultAsync(new ActionContext(context, new RouteData(), new ActionDescriptor())).ConfigureAwait(false);
        var body = (MemoryStream)context.Response.Body;
        var text = Encoding.UTF8.GetString(body.ToArray());
        return new FunctionResponse(context.Response.StatusCode, context.Response.ContentType, text);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            Host.Dispose();
            _index.Dispose();
        }
    }
}

internal sealed record FunctionResponse(int Status, string? ContentType, string Body)
{
    public string? MediaType => ContentType?.Split(';')[0].Trim();

    public JsonElement Json(int expectedStatus = StatusCodes.Status200OK)
    {
        Assert.True(expectedStatus == Status, $"Expected {expectedStatus}, got {Status}: {Body}");
        Assert.Equal("application/json", MediaType);
        return JsonDocument.Parse(Body).RootElement.Clone();
    }

    public JsonElement Problem(int expectedStatus)
    {
        Assert.True(expectedStatus == Status, $"Expected {expectedStatus}, got {Status}: {Body}");
        Assert.Equal("application/problem+json", MediaType);
        var problem = JsonDocument.Parse(Body).RootElement.Clone();
        Assert.Equal(expectedStatus, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
        return problem;
    }
}
