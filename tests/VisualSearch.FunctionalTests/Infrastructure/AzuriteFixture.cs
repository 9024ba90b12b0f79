using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
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
    private const string Host = "127.0.0.1";
    private const int Port = 10000;

    private readonly StringBuilder _output = new();
    private Process? _process;
    private TempDirectory? _location;

    public BlobServiceClient Service { get; private set; } = null!;

    /// <summary>True if this fixture started Azurite (and so stops it).</summary>
    public bool Started => _process is not null;

    public static BlobClientOptions ClientOptions()
    {
        var options = new BlobClientOptions();
        options.Retry.MaxRetries = 1; // a missing emulator fails fast
        options.Retry.Delay = TimeSpan.FromMilliseconds(100);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(20);
        return options;
    }

    public async Task InitializeAsync()
    {
        if (!await IsListeningAsync().ConfigureAwait(false)) await StartAzuriteAsync().ConfigureAwait(false);
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
    public static Dictionary<string, string?> BlobSourceSettings(string container) => new()
    {
        ["BlobSource:ConnectionString"] = ConnectionString,
        ["BlobSource:Container"] = container,
        ["BlobSource:PollInterval"] = "00:00:00.200",
        ["BlobSource:MaxRetries"] = "1",
    };

    public async Task DisposeAsync()
    {
        if (_process is not null)
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                    await _process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
            {
            }

            _process.Dispose();
        }

        _location?.Dispose();
    }

    private async Task StartAzuriteAsync()
    {
        var root = Repo.Root;
        var bin = Path.Combine(root, "node_modules", ".bin", OperatingSystem.IsWindows() ? "azurite-blob.cmd" : "azurite-blob");
        if (!File.Exists(bin))
        {
            throw new InvalidOperationException(
                $"Azurite is not running on {Host}:{Port} and {bin} is missing. Run `npm ci` in {root} " +
                "(package.json lists azurite as a devDependency), or start Azurite yourself (npm run azurite).");
        }

        _location = new TempDirectory("vs-ft-azurite-");
        var start = new ProcessStartInfo(bin)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = root,
        };
        foreach (var a in new[] { "--silent", "--skipApiVersionCheck", "--loose", "--blobHost", Host, "--blobPort", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--location", _location.Path })
            start.ArgumentList.Add(a);

        _process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {bin}.");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await IsListeningAsync().ConfigureAwait(false))
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"Azurite ({bin}) exited with code {_process.ExitCode} before listening on {Host}:{Port}:\n{Output()}");
            if (DateTime.UtcNow > deadline)
                throw new InvalidOperationException($"Azurite ({bin}) did not listen on {Host}:{Port} within 30 s:\n{Output()}");
            await Task.Delay(100).ConfigureAwait(false);
        }
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

    private static async Task<bool> IsListeningAsync()
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            await client.ConnectAsync(Host, Port, timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return false;
        }
    }
}

[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Azurite";
}
