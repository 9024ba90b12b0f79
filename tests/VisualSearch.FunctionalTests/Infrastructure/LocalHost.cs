using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using VisualSearch.Cli;
using VisualSearch.Ingestion;

namespace VisualSearch.FunctionalTests.Infrastructure;

/// <summary>
/// The local host as <c>vsearch serve</c> builds it (ServeCommand.Build), on real Kestrel at 127.0.0.1 on a free
/// port, with its own temporary index directory.
/// </summary>
internal sealed class LocalHost : IAsyncDisposable
{
    private readonly TempDirectory _index;

    private LocalHost(WebApplication app, TempDirectory index, Uri baseAddress)
    {
        App = app;
        _index = index;
        BaseAddress = baseAddress;
        Client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public WebApplication App { get; }

    public IServiceProvider Services => App.Services;

    public Uri BaseAddress { get; }

    public HttpClient Client { get; }

    public string IndexPath => _index.Path;

    /// <param name="watch">Run the container watcher (no --no-watch).</param>
    /// <param name="overrides">Configuration on top of the command-line options.</param>
    public static async Task<LocalHost> StartAsync(bool watch = false, IDictionary<string, string?>? overrides = null)
    {
        var index = new TempDirectory("vs-ft-index-");
        try
        {
            List<string> args = ["--index", index.Path, "--urls", "http://127.0.0.1:0"];
            if (!watch) args.Add("--no-watch");
            var settings = new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Default"] = "Warning",
                ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
                // One write per ingested image; durability is not under test here.
                ["LocalIndex:FlushToDisk"] = "false",
            };
            if (overrides is not null) foreach (var (k, v) in overrides) settings[k] = v;

            var app = ServeCommand.Build(CliArgs.Parse(args, "no-watch", "verbose"), settings);
            await app.StartAsync().ConfigureAwait(false);
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? throw new InvalidOperationException("No server addresses.");
            var address = Assert.Single(addresses);
            Assert.StartsWith("http://127.0.0.1:", address, StringComparison.Ordinal);
            return new LocalHost(app, index, new Uri(address));
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    /// <summary>Indexes fixture photos through the engine's IngestionService (there is no upload endpoint).</summary>
    public Task IngestPhotosAsync(IEnumerable<string> names) => IngestPhotosAsync(Services, names);

    public static async Task IngestPhotosAsync(IServiceProvider services, IEnumerable<string> names)
    {
        var ingestion = services.GetRequiredService<IngestionService>();
        foreach (var name in names)
        {
            var result = await ingestion.IngestFileAsync(Repo.Photo(name), name).ConfigureAwait(false);
            Assert.True(result.Outcome == IngestOutcome.Indexed, $"{name}: {result.Outcome} {result.Reason} {result.Detail}");
        }
    }

    public Task<HttpResponseMessage> PostImageAsync(string pathAndQuery, byte[] body, string contentType = "image/jpeg")
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return Client.PostAsync(pathAndQuery, content);
    }

    public async Task<long> CountAsync()
    {
        using var response = await Client.GetAsync("/api/health").ConfigureAwait(false);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync().ConfigureAwait(false));
        return json.RootElement.GetProperty("count").GetInt64();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        try
        {
            await App.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            await App.DisposeAsync().ConfigureAwait(false);
            _index.Dispose();
        }
    }
}
