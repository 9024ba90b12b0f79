using Azure.Storage.Blobs;

namespace VisualSearch.ReliabilityTests.Infrastructure;

/// <summary>
/// This assembly's own Azurite blob service (node_modules/.bin/azurite-blob from `npm ci`) on a free loopback port
/// and a temporary location, so that it never shares 127.0.0.1:10000 with another test assembly running at the
/// same time. A missing Azurite is a failure, never a skip.
/// </summary>
public sealed class AzuriteInstance : IAsyncLifetime
{
    private AzuriteProcess? _azurite;

    public int Port { get; private set; }

    public string ConnectionString => ConnectionStringFor(Port);

    public BlobServiceClient Service { get; private set; } = null!;

    /// <summary>A connection string in the development account's form, for any port (a closed one fails fast).</summary>
    public static string ConnectionStringFor(int port) => AzuriteProcess.ConnectionStringFor(port);

    public static BlobClientOptions ClientOptions() => AzuriteProcess.ClientOptions();

    /// <summary>Settings that point a host at this Azurite and one container.</summary>
    public Dictionary<string, string?> BlobSourceSettings(string container) =>
        AzuriteProcess.BlobSourceSettings(ConnectionString, container);

    public async Task<BlobContainerClient> NewContainerAsync()
    {
        var container = Service.GetBlobContainerClient("rel-" + Guid.NewGuid().ToString("N"));
        await container.CreateAsync().ConfigureAwait(false);
        return container;
    }

    public async Task InitializeAsync()
    {
        var bin = AzuriteProcess.Bin;
        if (!File.Exists(bin))
            throw new InvalidOperationException($"{bin} is missing: run `npm ci` in {Repo.Root} (package.json lists azurite as a devDependency).");

        for (var attempt = 1; ; attempt++)
        {
            Port = FreePort();
            _azurite = AzuriteProcess.Start(Port, "vs-rel-azurite-");
            if (await _azurite.WaitUntilListeningAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false) && !_azurite.HasExited) break;

            var output = _azurite.Output();
            await StopAsync().ConfigureAwait(false);
            // Another process may have taken the free port between the probe and Azurite's bind: try another.
            if (attempt == 3) throw new InvalidOperationException($"Azurite ({bin}) did not listen on 127.0.0.1:{Port}:\n{output}");
        }

        Service = new BlobServiceClient(ConnectionString, ClientOptions());
        await Service.GetBlobContainerClient("probe").ExistsAsync().ConfigureAwait(false);
    }

    public Task DisposeAsync() => StopAsync();

    /// <summary>A loopback port nothing listens on right now.</summary>
    public static int FreePort() => AzuriteProcess.FreePort();

    private async Task StopAsync()
    {
        if (_azurite is not null)
        {
            await _azurite.DisposeAsync().ConfigureAwait(false);
            _azurite = null;
        }
    }
}

[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteInstance>
{
    public const string Name = "Azurite (reliability)";
}
