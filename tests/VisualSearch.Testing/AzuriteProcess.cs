using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Azure.Storage.Blobs;

namespace VisualSearch.Testing;

/// <summary>
/// One azurite-blob process (node_modules/.bin/azurite-blob from `npm ci`, started by scripts/azurite.sh, the
/// command line scripts/test.sh and scripts/demo.sh use too) on 127.0.0.1 and a port, with its own
/// temporary location, its output kept for error messages; disposing it kills the process and deletes the
/// location. The xunit fixtures decide which port, how long to wait and what a failure says.
/// </summary>
public sealed class AzuriteProcess : IAsyncDisposable
{
    public const string Host = "127.0.0.1";

    /// <summary>Azurite's well-known development account key (public, in every Azurite and Azure SDK doc).</summary>
    private const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly StringBuilder _output = new();
    private readonly Process _process;
    private readonly TempDirectory _location;

    private AzuriteProcess(Process process, TempDirectory location, int port)
    {
        _process = process;
        _location = location;
        Port = port;
    }

    /// <summary>The launcher script in the repository's node_modules (it may be missing: check first).</summary>
    public static string Bin => Path.Combine(Repo.Root, "node_modules", ".bin", OperatingSystem.IsWindows() ? "azurite-blob.cmd" : "azurite-blob");

    public int Port { get; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Blob client options for the tests: a missing emulator fails fast.</summary>
    public static BlobClientOptions ClientOptions()
    {
        var options = new BlobClientOptions();
        options.Retry.MaxRetries = 1;
        options.Retry.Delay = TimeSpan.FromMilliseconds(100);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(20);
        return options;
    }

    /// <summary>A connection string in the development account's form for the blob service on <paramref name="port"/> (a closed one fails fast).</summary>
    public static string ConnectionStringFor(int port) =>
        $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AccountKey};BlobEndpoint=http://{Host}:{port.ToString(CultureInfo.InvariantCulture)}/devstoreaccount1;";

    /// <summary>Settings that point a host at an Azurite and one container.</summary>
    public static Dictionary<string, string?> BlobSourceSettings(string connectionString, string container) => new()
    {
        ["BlobSource:ConnectionString"] = connectionString,
        ["BlobSource:Container"] = container,
        ["BlobSource:PollInterval"] = "00:00:00.200",
        ["BlobSource:MaxRetries"] = "1",
    };

    /// <summary>The script that starts <see cref="Bin"/> with the repository's one Azurite command line.</summary>
    public static string Script => Path.Combine(Repo.Root, "scripts", "azurite.sh");

    /// <summary>Starts <see cref="Bin"/> (through <see cref="Script"/>) on <see cref="Host"/>:<paramref name="port"/> with a fresh temporary location.</summary>
    public static AzuriteProcess Start(int port, string locationPrefix)
    {
        var location = new TempDirectory(locationPrefix);
        try
        {
            var start = new ProcessStartInfo("bash")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = Repo.Root,
            };
            foreach (var a in new[] { Script, "run", port.ToString(CultureInfo.InvariantCulture), location.Path })
                start.ArgumentList.Add(a);

            var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {Script}.");
            var azurite = new AzuriteProcess(process, location, port);
            process.OutputDataReceived += (_, e) => azurite.Append(e.Data);
            process.ErrorDataReceived += (_, e) => azurite.Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return azurite;
        }
        catch
        {
            location.Dispose();
            throw;
        }
    }

    /// <summary>Polls every 100 ms until the port accepts connections (true), or the process exits or the time is up (false).</summary>
    public async Task<bool> WaitUntilListeningAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await IsListeningAsync(Port).ConfigureAwait(false))
        {
            if (_process.HasExited || DateTime.UtcNow > deadline) return false;
            await Task.Delay(100).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>What the process wrote to stdout and stderr so far.</summary>
    public string Output()
    {
        lock (_output) return _output.ToString();
    }

    /// <summary>Whether something accepts TCP connections on <see cref="Host"/>:<paramref name="port"/> (within 1 s).</summary>
    public static async Task<bool> IsListeningAsync(int port)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            await client.ConnectAsync(Host, port, timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>A loopback port nothing listens on right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Kills the process tree (waiting up to 10 s for it to exit) and deletes the location.</summary>
    public async ValueTask DisposeAsync()
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
        _location.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }
}
