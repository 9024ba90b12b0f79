using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace VisualSearch.ReliabilityTests.Infrastructure;

/// <summary>
/// The real <c>vsearch serve</c> as its own process (<c>dotnet vsearch.dll</c> from the CLI project's build output, built
/// through this project's reference), on a free loopback port, so that it can be killed with SIGKILL.
/// </summary>
internal sealed class VsearchProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private VsearchProcess(Process process, int port)
    {
        _process = process;
        Port = port;
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}"), Timeout = TimeSpan.FromSeconds(30) };
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Port { get; }

    public HttpClient Client { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>vsearch.dll of the CLI project, in the configuration these tests were built in.</summary>
    public static string CliPath
    {
        get
        {
            var output = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)); // bin/<Configuration>/<tfm>
            var configuration = output.Parent?.Name ?? "Debug";
            var tfm = output.Name;
            var path = Path.Combine(Repo.Root, "tools", "VisualSearch.Cli", "bin", configuration, tfm, "vsearch.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"The vsearch CLI is not built at {path} (dotnet build tools/VisualSearch.Cli).", path);
        }
    }

    public static Task<VsearchProcess> StartServeAsync(string indexPath, IDictionary<string, string> environment)
    {
        var port = AzuriteInstance.FreePort();
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(indexPath)!,
        };
        foreach (var a in new[] { CliPath, "serve", "--index", indexPath, "--urls", $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}" })
            start.ArgumentList.Add(a);
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (k, v) in environment) start.Environment[k] = v;
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start vsearch.");
        return Task.FromResult(new VsearchProcess(process, port));
    }

    /// <summary>The record count from /api/health once the host answers (the index is open), or null while it does not.</summary>
    public async Task<long?> TryCountAsync()
    {
        try
        {
            using var response = await Client.GetAsync("/api/health").ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK) return null;
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync().ConfigureAwait(false));
            return json.RootElement.GetProperty("count").GetInt64();
        }
        catch (HttpRequestException)
        {
            return null;
        }
        catch (TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>Waits until /api/health answers; fails with the process output if it exits or times out.</summary>
    public async Task<long> WaitUntilServingAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await TryCountAsync().ConfigureAwait(false) is { } count) return count;
            if (_process.HasExited) Assert.Fail($"vsearch serve exited with {_process.ExitCode}:\n{Output}");
            if (DateTime.UtcNow > deadline) Assert.Fail($"vsearch serve did not answer /api/health within {timeout.TotalSeconds:F0} s:\n{Output}");
            await Task.Delay(100).ConfigureAwait(false);
        }
    }

    /// <summary>SIGKILL (on Linux, Process.Kill sends SIGKILL): no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
    }

    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            try
            {
                await KillAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException)
            {
            }
        }

        _process.Dispose();
    }
}
