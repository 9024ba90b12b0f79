using System.Text;
using Azure.Storage.Blobs;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VisualSearch.Functions;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;
using VisualSearch.Ingestion;
using VisualSearch.Search;

namespace VisualSearch.ReliabilityTests.Infrastructure;

/// <summary>
/// The Functions app's services as Program.cs composes them (<see cref="FunctionsAppComposition.AddVisualSearchFunctionServices"/>)
/// on a generic host whose logs go to a <see cref="LogCapture"/>, with the function classes constructed from it, so a
/// test can hand IngestImage a BlobClient that stalls or deletes mid-read. The worker's pipeline itself (the host
/// protocol, HTTP integration, middleware) is tested on the real worker process in VisualSearch.Functions.HostTests.
/// </summary>
internal sealed class FunctionServicesHost : IAsyncDisposable
{
    private readonly TempDirectory _index;

    private FunctionServicesHost(IHost host, TempDirectory index, LogCapture logs)
    {
        Host = host;
        _index = index;
        Logs = logs;
        Ingest = ActivatorUtilities.CreateInstance<IngestFunctions>(Services);
    }

    public IHost Host { get; }

    public IServiceProvider Services => Host.Services;

    public LogCapture Logs { get; }

    public IngestFunctions Ingest { get; }

    public BlobServiceClient Blobs => Services.GetRequiredService<BlobServiceClient>();

    public static async Task<FunctionServicesHost> StartAsync(IDictionary<string, string?> settings)
    {
        var index = new TempDirectory("vs-rel-pipeline-");
        try
        {
            var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
            var all = new Dictionary<string, string?>
            {
                [$"{LocalIndexOptions.SectionName}:Path"] = index.Path,
                [$"{LocalIndexOptions.SectionName}:FlushToDisk"] = "false",
                ["Logging:LogLevel:Default"] = "Information",
                ["Logging:LogLevel:Microsoft"] = "Warning",
                ["Logging:LogLevel:Azure"] = "Warning",
            };
            foreach (var (k, v) in settings) all[k] = v;
            builder.Configuration.AddInMemoryCollection(all);
            builder.AddVisualSearchFunctionServices();
            var logs = new LogCapture();
            builder.Logging.ClearProviders(); // after the composition: Application Insights' provider goes too
            builder.Logging.AddProvider(logs);
            var host = builder.Build();
            await host.StartAsync().ConfigureAwait(false);
            return new FunctionServicesHost(host, index, logs);
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    public async Task<IVectorIndex> IndexAsync() => await Services.GetRequiredService<VectorIndexAccessor>().GetAsync().ConfigureAwait(false);

    public async Task<VectorRecord?> RecordAsync(string id) => await (await IndexAsync().ConfigureAwait(false)).GetAsync(id).ConfigureAwait(false);

    public async Task<long> CountAsync() => await (await IndexAsync().ConfigureAwait(false)).CountAsync().ConfigureAwait(false);

    public SearchService Search => Services.GetRequiredService<SearchService>();

    public IngestionService Ingestion => Services.GetRequiredService<IngestionService>();

    /// <summary>Posts an Event Grid batch to the BlobEvents function, as Event Grid would, and returns the status.</summary>
    public async Task<int> PostEventsAsync(string json)
    {
        var context = new DefaultHttpContext { RequestServices = Services };
        context.Request.Method = "POST";
        context.Request.Path = "/api/events/blobs";
        var body = Encoding.UTF8.GetBytes(json);
        context.Request.Body = new MemoryStream(body);
        context.Request.ContentLength = body.Length;
        context.Request.ContentType = "application/json";
        context.Response.Body = new MemoryStream();
        var result = await Ingest.BlobEvents(context.Request, CancellationToken.None).ConfigureAwait(false);
        await result.ExecuteResultAsync(new ActionContext(context, new RouteData(), new ActionDescriptor())).ConfigureAwait(false);
        return context.Response.StatusCode;
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

/// <summary>Event Grid schema batches for storage events, as Event Grid posts them.</summary>
internal static class EventGrid
{
    public static string Created(string container, string blob, string api = "PutBlob") => Batch(("Microsoft.Storage.BlobCreated", container, blob, api));

    public static string Deleted(string container, string blob) => Batch(("Microsoft.Storage.BlobDeleted", container, blob, "DeleteBlob"));

    public static string Batch(params (string Type, string Container, string Blob, string Api)[] events) =>
        System.Text.Json.JsonSerializer.Serialize(events.Select(e => new Dictionary<string, object>
        {
            ["id"] = Guid.NewGuid().ToString(),
            ["eventType"] = e.Type,
            ["subject"] = $"/blobServices/default/containers/{e.Container}/blobs/{e.Blob}",
            ["eventTime"] = DateTimeOffset.UtcNow.ToString("o"),
            ["data"] = new Dictionary<string, object> { ["api"] = e.Api, ["blobType"] = "BlockBlob" },
            ["dataVersion"] = "",
            ["metadataVersion"] = "1",
        }));
}
