using Azure.Storage.Blobs;

namespace VisualSearch.FunctionalTests.Infrastructure;

/// <summary>
/// Makes sure Azurite's blob service listens on 127.0.0.1:10000: uses one that runs already, or starts
/// node_modules/.bin/azurite-blob (from `npm ci`) on a temporary location and stops it at the end.
/// A missing Azurite is a failure, never a skip.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    public const string ConnectionString = "UseDevelopmentStorage=true";
    private const string Host = AzuriteProcess.Host;
    private const int Port = 10000;

    private AzuriteProcess? _azurite;

    public BlobServiceClient Service { get; private set; } = null!;

    /// <summary>True if this fixture started Azurite (and so stops it).</summary>
    public bool Started => _azurite is not null;

    /// <summary>A missing emulator fails fast.</summary>
    public static BlobClientOptions ClientOptions() => AzuriteProcess.ClientOptions();

    public async Task InitializeAsync()
    {
        if (!await AzuriteProcess.IsListeningAsync(Port).ConfigureAwait(false)) await StartAzuriteAsync().ConfigureAwait(false);
        Service = new BlobServiceClient(ConnectionString, ClientOptions());
        // One real call, so that a port held by something else fails here with a clear message.
        try
        {
            await Service.GetBlobContainerClient("it-probe").ExistsAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is Azure.RequestFailedException or AggregateException or HttpRequestException)
        {
            throw new InvalidOperationException($"Something listens on {Host}:{Port} but does not answer as Azurite's blob service: {ex.Message}", ex);
        }
    }

    /// <summary>A new, empty container with a unique name.</summary>
    public async Task<BlobContainerClient> NewContainerAsync()
    {
        var container = Service.GetBlobContainerClient("it-" + Guid.NewGuid().ToString("N"));
        await container.CreateAsync().ConfigureAwait(false);
        return container;
    }

    /// <summary>Settings that point a host at Azurite and at one container.</summary>
    public static Dictionary<string, string?> BlobSourceSettings(string container) =>
        AzuriteProcess.BlobSourceSettings(ConnectionString, container);

    public async Task DisposeAsync()
    {
        if (_azurite is not null) await _azurite.DisposeAsync().ConfigureAwait(false);
    }

    private async Task StartAzuriteAsync()
    {
        var bin = AzuriteProcess.Bin;
        if (!File.Exists(bin))
        {
            throw new InvalidOperationException(
                $"Azurite is not running on {Host}:{Port} and {bin} is missing. Run `npm ci` in {Repo.Root} " +
                "(package.json lists azurite as a devDependency), or start Azurite yourself (npm run azurite).");
        }

        _azurite = AzuriteProcess.Start(Port, "vs-ft-azurite-");
        if (!await _azurite.WaitUntilListeningAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false))
        {
            throw new InvalidOperationException(_azurite.HasExited
                ? $"Azurite ({bin}) exited with code {_azurite.ExitCode} before listening on {Host}:{Port}:\n{_azurite.Output()}"
                : $"Azurite ({bin}) did not listen on {Host}:{Port} within 30 s:\n{_azurite.Output()}");
        }
    }
}

[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Azurite";
}
