using System.Net.Http.Headers;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using VisualSearch.Cli;
using VisualSearch.Ingestion;

namespace VisualSearch.BrowserTests.Infrastructure;

/// <summary>
/// The local host as <c>vsearch serve --no-watch</c> builds it, on Kestrel at 127.0.0.1 on a free port, with its own
/// index directory, "file" items read from the fixture photos (Images:Root), and the photos indexed as
/// <c>vsearch index</c> would (id = file name).
/// </summary>
internal sealed class PageHost : IAsyncDisposable
{
    private readonly TempDirectory _index;

    private PageHost(WebApplication app, TempDirectory index, Uri baseAddress)
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

    /// <param name="overrides">Configuration on top of the defaults (sign-in settings, for example).</param>
    /// <param name="issuerBackchannel">
    /// How the host reaches an https test issuer (<see cref="TestIssuer.TrustingHandler"/>: its per-run certificate and
    /// no other), in place of the machine's trust store, which does not know that certificate.
    /// </param>
    public static async Task<PageHost> StartAsync(string imagesRoot, IEnumerable<string> photos, IDictionary<string, string?>? overrides = null,
        HttpMessageHandler? issuerBackchannel = null)
    {
        var index = new TempDirectory("vs-bt-index-");
        try
        {
            var settings = new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Default"] = "Warning",
                ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
                ["LocalIndex:FlushToDisk"] = "false",
                ["Images:Root"] = imagesRoot,
            };
            if (overrides is not null) foreach (var (k, v) in overrides) settings[k] = v;
            var app = ServeCommand.Build(CliArgs.Parse(["--index", index.Path, "--urls", "http://127.0.0.1:0", "--no-watch"], "no-watch", "verbose"), settings);
            if (issuerBackchannel is not null)
            {
                // The bearer options are made once and cached: swap in a configuration manager that fetches discovery and
                // the JWKS through the trusting handler (same retriever and https requirement as the host's own).
                var jwt = app.Services.GetRequiredService<IOptionsMonitor<JwtBearerOptions>>().Get(JwtBearerDefaults.AuthenticationScheme);
                jwt.ConfigurationManager = new ConfigurationManager<OpenIdConnectConfiguration>(jwt.MetadataAddress, new OpenIdConnectConfigurationRetriever(),
                    new HttpDocumentRetriever(new HttpClient(issuerBackchannel)) { RequireHttps = true });
            }

            await app.StartAsync().ConfigureAwait(false);
            var address = Assert.Single(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? []);
            var host = new PageHost(app, index, new Uri(address));
            await host.IngestAsync(imagesRoot, photos).ConfigureAwait(false);
            return host;
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Indexes files under <paramref name="root"/> as <c>vsearch index</c> does: source "file", id = relative path,
    /// owned by <paramref name="owner"/> (<c>--owner</c>) or no one.
    /// </summary>
    public async Task IngestAsync(string root, IEnumerable<string> names, string? owner = null)
    {
        var ingestion = Services.GetRequiredService<IngestionService>();
        foreach (var name in names)
        {
            var result = await ingestion.IngestFileAsync(Path.Combine(root, name), name, owner: owner).ConfigureAwait(false);
            Assert.True(result.Outcome == IngestOutcome.Indexed, $"{name}: {result.Outcome} {result.Reason} {result.Detail}");
        }
    }

    public Task<HttpResponseMessage> PostAsync(string pathAndQuery, byte[] body, string contentType = "image/jpeg")
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return Client.PostAsync(pathAndQuery, content);
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
