using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace VisualSearch.Cli.Bench;

/// <summary>
/// Process start to first answer, measured by starting this same vsearch executable: <c>vsearch search</c>
/// (until it exits after printing the results) and <c>vsearch serve</c> (until the first POST /api/search
/// on 127.0.0.1 is answered 200). <paramref name="settings"/> (environment variables, e.g. the graph settings
/// the bench built the index with) are given to every process it starts.
/// </summary>
internal sealed class ColdStartBench(IReadOnlyDictionary<string, string> settings)
{
    /// <summary>The same, with <paramref name="more"/> settings added (or replacing ones of the same name).</summary>
    public ColdStartBench With(IReadOnlyDictionary<string, string> more)
    {
        var merged = new Dictionary<string, string>(settings, StringComparer.Ordinal);
        foreach (var (k, v) in more) merged[k] = v;
        return new ColdStartBench(merged);
    }

    /// <summary>Milliseconds from process start to the first line of its answer on stdout (the process then closes the index and exits).</summary>
    public async Task<double> SearchAsync(string indexRoot, string image, CancellationToken cancellationToken)
    {
        var start = Start(["search", image, "--index", indexRoot, "--k", "3"], redirect: true);
        using var process = start.Process;
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        var first = await process.StandardOutput.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        var elapsed = Stopwatch.GetElapsedTime(start.Timestamp).TotalMilliseconds;
        var rest = await process.StandardOutput.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0 || first is null)
            throw new InvalidOperationException($"vsearch search exited with {process.ExitCode}: {await errors.ConfigureAwait(false)}{first}{rest}");
        return elapsed;
    }

    public async Task<double> ServeAsync(string indexRoot, byte[] image, CancellationToken cancellationToken) =>
        (await ServeWithPeakAsync(indexRoot, image, cancellationToken).ConfigureAwait(false)).Milliseconds;

    /// <summary>
    /// Milliseconds from process start to the first search answered, and the process's peak resident memory so far
    /// (VmHWM of /proc/PID/status, read while it still runs; 0 where there is no /proc): everything the open copied
    /// counts, as the kernel saw it.
    /// </summary>
    public async Task<(double Milliseconds, long PeakBytes)> ServeWithPeakAsync(string indexRoot, byte[] image, CancellationToken cancellationToken)
    {
        var port = FreePort();
        var url = $"http://127.0.0.1:{port}";
        var start = Start(["serve", "--index", indexRoot, "--urls", url, "--no-watch"], redirect: false,
            new Dictionary<string, string> { ["Api__PermitsPerSecond"] = "0", ["Logging__LogLevel__Default"] = "Warning" });
        using var process = start.Process;
        // The first request waits while the host opens the index (at a million records: replaying the log).
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(300) };
        try
        {
            var deadline = TimeSpan.FromSeconds(300);
            while (Stopwatch.GetElapsedTime(start.Timestamp) < deadline)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (process.HasExited) throw new InvalidOperationException($"vsearch serve exited with {process.ExitCode} before answering.");
                try
                {
                    using var content = new ByteArrayContent(image);
                    content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("image/jpeg");
                    using var response = await http.PostAsync($"{url}/api/search?k=3", content, cancellationToken).ConfigureAwait(false);
                    if (response.StatusCode == HttpStatusCode.OK) return (Stopwatch.GetElapsedTime(start.Timestamp).TotalMilliseconds, PeakResidentBytes(process.Id));
                }
                catch (HttpRequestException)
                {
                    // Not listening yet.
                }
                catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // Timed out: try again until the deadline.
                }

                await Task.Delay(10, cancellationToken).ConfigureAwait(false);
            }

            throw new TimeoutException("vsearch serve did not answer within 300 s.");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    private (Process Process, long Timestamp) Start(string[] arguments, bool redirect, IDictionary<string, string>? environment = null)
    {
        // This process's own executable: the vsearch apphost, or dotnet with vsearch.dll.
        var host = Environment.ProcessPath ?? throw new InvalidOperationException("Unknown executable path.");
        var info = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = redirect,
            RedirectStandardError = redirect,
            UseShellExecute = false,
        };
        if (Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "vsearch.dll"));
        foreach (var a in arguments) info.ArgumentList.Add(a);
        foreach (var (k, v) in settings) info.Environment[k] = v;
        if (environment is not null) foreach (var (k, v) in environment) info.Environment[k] = v;
        if (!redirect)
        {
            info.RedirectStandardOutput = true;
            info.RedirectStandardError = true;
        }

        var timestamp = Stopwatch.GetTimestamp();
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start vsearch.");
        if (!redirect)
        {
            // Drain the host's logs so it never blocks on a full pipe.
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        return (process, timestamp);
    }

    /// <summary>VmHWM (peak resident set) of a running process in bytes; 0 without /proc.</summary>
    internal static long PeakResidentBytes(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return 0;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
