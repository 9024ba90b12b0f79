using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Azure.Storage.Blobs;
using VisualSearch.FunctionalTests.Infrastructure;

namespace VisualSearch.ReliabilityTests.Infrastructure;

/// <summary>
/// This assembly's own Azurite blob service (node_modules/.bin/azurite-blob from `npm ci`) on a free loopback port
/// and a temporary location, so that it never shares 127.0.0.1:10000 with another test assembly running at the
/// same time. A missing Azurite is a failure, never a skip.
/// </summary>
public sealed class AzuriteInstance : IAsyncLifetime
{
    /// <summary>Azurite's well-known development account key (public, in every Azurite and Azure SDK doc).</summary>
    private const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly StringBuilder _output = new();
    private Process? _process;
    private TempDirectory? _location;

    public int Port { get; private set; }

    public string ConnectionString => ConnectionStringFor(Port);

    public BlobServiceClient Service { get; private set; } = null!;

    /// <summary>A connection string in the development account's form, for any port (a closed one fails fast).</summary>
    public static string ConnectionStringFor(int port) =>
        $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AccountKey};BlobEndpoint=http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/devstoreaccount1;";

    public static BlobClientOptions ClientOptions()
    {
        var options = new BlobClientOptions();
        options.Retry.MaxRetries = 1;
        options.Retry.Delay = TimeSpan.FromMilliseconds(100);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(20);
        return options;
    }

    /// <summary>Settings that point a host at this Azurite and one container.</summary>
    public Dictionary<string, string?> BlobSourceSettings(string container) => new()
    {
        ["BlobSource:ConnectionString"] = ConnectionString,
        ["BlobSource:Container"] = container,
        ["BlobSource:PollInterval"] = "00:00:00.200",
        ["BlobSource:MaxRetries"] = "1",
    };

    public async Task<BlobContainerClient> NewContainerAsync()
    {
        var container = Service.GetBlobContainerClient("rel-" + Guid.NewGuid().ToString("N"));
        await container.CreateAsync().ConfigureAwait(false);
        return container;
    }

    public async Task InitializeAsync()
    {
        var bin = Path.Combine(Repo.Root, "node_modules", ".bin", OperatingSystem.IsWindows() ? "azurite-blob.cmd" : "azurite-blob");
        if (!File.Exists(bin))
            throw new InvalidOperationException($"{bin} is missing: run `npm ci` in {Repo.Root} (package.json lists azurite as a devDependency).");

        for (var attempt = 1; ; attempt++)
        {
            Port = FreePort();
            _location = new TempDirectory("vs-rel-azurite-");
            var start = new ProcessStartInfo(bin)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = Repo.Root,
            };
            foreach (var a in new[] { "--silent", "--skipApiVersionCheck", "--loose", "--blobHost", "127.0.0.1", "--blobPort", Port.ToString(CultureInfo.InvariantCulture), "--location", _location.Path })
                start.ArgumentList.Add(a);
            _process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {bin}.");
            _process.OutputDataReceived += (_, e) => Append(e.Data);
            _process.ErrorDataReceived += (_, e) => Append(e.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();

            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (!_process.HasExited && !await IsListeningAsync(Port).ConfigureAwait(false) && DateTime.UtcNow < deadline)
                await Task.Delay(100).ConfigureAwait(false);
            if (!_process.HasExited && await IsListeningAsync(Port).ConfigureAwait(false)) break;

            var output = Output();
            await StopAsync().ConfigureAwait(false);
            // Another process may have taken the free port between the probe and Azurite's bind: try another.
            if (attempt == 3) throw new InvalidOperationException($"Azurite ({bin}) did not listen on 127.0.0.1:{Port}:\n{output}");
        }

        Service = new BlobServiceClient(ConnectionString, ClientOptions());
        await Service.GetBlobContainerClient("probe").ExistsAsync().ConfigureAwait(false);
    }

    public Task DisposeAsync() => StopAsync();

    private async Task StopAsync()
    {
        if (_process is not null)
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
            {
            }

            _process.Dispose();
            _process = null;
        }

        _location?.Dispose();
        _location = null;
    }

    /// <summary>A loopback port nothing listens on right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    private string Output()
    {
        lock (_output) return _output.ToString();
    }

    private static async Task<bool> IsListeningAsync(int port)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            await client.ConnectAsync("127.0.0.1", port, timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return false;
        }
    }
}

[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteInstance>
{
    public const string Name = "Azurite (reliability)";
}
