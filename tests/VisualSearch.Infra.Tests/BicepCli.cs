using System.Diagnostics;

namespace VisualSearch.Infra.Tests;

internal sealed record BicepResult(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>Diagnostic lines (errors, warnings, infos) Bicep printed on either stream.</summary>
    public IReadOnlyList<string> Diagnostics =>
        (StandardError + "\n" + StandardOutput)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => l.Contains(" : Error ", StringComparison.Ordinal)
                || l.Contains(" : Warning ", StringComparison.Ordinal)
                || l.Contains(" : Info ", StringComparison.Ordinal))
            .ToList();

    public string Describe() => $"exit code {ExitCode}\nstderr:\n{StandardError}\nstdout (start):\n{Truncate(StandardOutput, 2000)}";

    private static string Truncate(string text, int max) => text.Length <= max ? text : text[..max] + "...";
}

/// <summary>Runs the Bicep CLI (a self-contained native binary: no az CLI, no network).</summary>
internal static class BicepCli
{
    private static readonly Lazy<string> Executable = new(BicepLocation.Resolve);
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    public static async Task<BicepResult> RunAsync(params string[] arguments)
    {
        var startInfo = new ProcessStartInfo(Executable.Value)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Repo.Root,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        // Keep the CLI quiet and local: no telemetry, no update checks.
        startInfo.Environment["BICEP_TRACING_ENABLED"] = "false";
        startInfo.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";

        using var process = Process.Start(startInfo)
            ?? throw new InvalidOperationException($"Could not start {Executable.Value}");

        using var cancellation = new CancellationTokenSource(Timeout);
        var stdout = process.StandardOutput.ReadToEndAsync(cancellation.Token);
        var stderr = process.StandardError.ReadToEndAsync(cancellation.Token);
        try
        {
            await process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"bicep {string.Join(' ', arguments)} did not finish within {Timeout}.");
        }

        return new BicepResult(process.ExitCode, await stdout, await stderr);
    }
}
