using System.Diagnostics;
using System.Text;

namespace VisualSearch.BrowserTests.Infrastructure;

/// <summary>Runs a node script from the repository root and collects what it printed.</summary>
internal static class NodeScript
{
    public static async Task<(int ExitCode, string Output)> RunAsync(string script, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo("node")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Repo.Root,
        };
        start.ArgumentList.Add(script);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);

        var output = new StringBuilder();
        void Append(string? line)
        {
            if (line is null) return;
            lock (output) output.AppendLine(line);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("node did not start.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("node is not on PATH: the browser test runs its page steps with Node.js (and playwright-core from `npm ci`).", ex);
        }

        using (process)
        {
            process.OutputDataReceived += (_, e) => Append(e.Data);
            process.ErrorDataReceived += (_, e) => Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                Append($"[killed after {timeout.TotalSeconds:F0} s]");
                return (-1, Snapshot());
            }

            // The exit event can precede the last lines of the redirected streams.
            process.WaitForExit();
            return (process.ExitCode, Snapshot());
        }

        string Snapshot()
        {
            lock (output) return output.ToString();
        }
    }
}
