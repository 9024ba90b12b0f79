using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using VisualSearch.Cli;
using VisualSearch.FunctionalTests.Infrastructure;
using VisualSearch.Ingestion;

namespace VisualSearch.FunctionalTests.Identity;

/// <summary>
/// The test issuer and a local host (vsearch serve --no-watch) that trusts it, holding photos of A, of B and one of
/// no one (indexed before sign-in was configured): A owns chelsea, coffee and astronaut; B hubble, retina and brick.
/// </summary>
public sealed class SignedInHostFixture : IAsyncLifetime
{
    public static readonly string[] PhotosOfA = ["chelsea.png", "coffee.png", "astronaut.png"];
    public static readonly string[] PhotosOfB = ["hubble_deep_field.jpg", "retina.jpg", "brick.png"];
    public const string PhotoOfNoOne = "camera.png";

    private TestIssuer? _issuer;
    private LocalHost? _host;

    internal TestIssuer Issuer => _issuer ?? throw new InvalidOperationException("Not started.");

    internal LocalHost Host => _host ?? throw new InvalidOperationException("Not started.");

    /// <summary>Item ids are "&lt;owner&gt;/&lt;photo&gt;", so a test can tell whose a result is from its id alone.</summary>
    internal static string IdOf(TestUser user, string photo) => $"{user.Owner}/{photo}";

    public async Task InitializeAsync()
    {
        _issuer = await TestIssuer.StartAsync().ConfigureAwait(false);
        _host = await LocalHost.StartAsync(watch: false, _issuer.HostSettings()).ConfigureAwait(false);
        var ingestion = _host.Services.GetRequiredService<IngestionService>();
        foreach (var (user, photos) in new[] { (TestUser.A, PhotosOfA), (TestUser.B, PhotosOfB) })
        {
            foreach (var photo in photos)
                Assert.Equal(IngestOutcome.Indexed, (await ingestion.IngestFileAsync(Repo.Photo(photo), IdOf(user, photo), owner: user.Owner).ConfigureAwait(false)).Outcome);
        }

        Assert.Equal(IngestOutcome.Indexed, (await ingestion.IngestFileAsync(Repo.Photo(PhotoOfNoOne), "nobody/" + PhotoOfNoOne).ConfigureAwait(false)).Outcome);
    }

    public async Task DisposeAsync()
    {
        if (_host is not null) await _host.DisposeAsync().ConfigureAwait(false);
        if (_issuer is not null) await _issuer.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Sends a request with <paramref name="token"/> as the bearer token (none when null).</summary>
    internal async Task<HttpResponseMessage> SendAsync(HttpMethod method, string pathAndQuery, string? token, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(method, pathAndQuery) { Content = content };
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await Host.Client.SendAsync(request).ConfigureAwait(false);
    }

    internal Task<HttpResponseMessage> GetAsync(string pathAndQuery, TestUser user) => SendAsync(HttpMethod.Get, pathAndQuery, Issuer.Token(user));

    internal Task<HttpResponseMessage> SearchByImageAsync(byte[] image, TestUser user, string query = "?k=20") =>
        SendAsync(HttpMethod.Post, "/api/search" + query, Issuer.Token(user), Image(image));

    internal static ByteArrayContent Image(byte[] bytes, string contentType = "image/png")
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return content;
    }
}
