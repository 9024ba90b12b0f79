using System.Text.Json;

namespace VisualSearch.Infra.Tests;

/// <summary>
/// Every Bicep file under infra/ lints and compiles with no diagnostic at all. infra/bicepconfig.json
/// raises every linter rule that is on to error level, so a new warning fails here rather than in a
/// deployment.
/// </summary>
public sealed class BicepLintAndBuildTests
{
    public static TheoryData<string> BicepFiles()
    {
        var data = new TheoryData<string>();
        foreach (var file in Repo.BicepFiles())
        {
            data.Add(file);
        }

        return data;
    }

    [Fact]
    public void Infra_HasTheExpectedEntryPointsAndModules()
    {
        var files = Repo.BicepFiles();

        Assert.Contains("infra/main.bicep", files);
        Assert.Contains("infra/main.bicepparam", files);
        Assert.Contains("infra/modules/rbac.bicep", files);
        Assert.Contains("infra/modules/event-subscriptions.bicep", files);
        Assert.True(File.Exists(Path.Combine(Repo.Infra, "bicepconfig.json")), "infra/bicepconfig.json is missing");
    }

    [Theory]
    [MemberData(nameof(BicepFiles))]
    public async Task Lint_ReportsNothing(string file)
    {
        var result = await BicepCli.RunAsync("lint", file);

        Assert.True(result.ExitCode == 0, $"bicep lint {file}: {result.Describe()}");
        Assert.Empty(result.Diagnostics);
        Assert.True(string.IsNullOrWhiteSpace(result.StandardError), $"bicep lint {file} wrote to stderr:\n{result.StandardError}");
    }

    [Theory]
    [MemberData(nameof(BicepFiles))]
    public async Task Build_ProducesJsonAndReportsNothing(string file)
    {
        var command = file.EndsWith(".bicepparam", StringComparison.Ordinal) ? "build-params" : "build";

        var result = await BicepCli.RunAsync(command, file, "--stdout");

        Assert.True(result.ExitCode == 0, $"bicep {command} {file}: {result.Describe()}");
        Assert.Empty(result.Diagnostics);
        Assert.True(string.IsNullOrWhiteSpace(result.StandardError), $"bicep {command} {file} wrote to stderr:\n{result.StandardError}");

        using var json = JsonDocument.Parse(result.StandardOutput);
        var expectedProperty = command == "build" ? "$schema" : "parametersJson";
        Assert.True(json.RootElement.TryGetProperty(expectedProperty, out _), $"{file}: no '{expectedProperty}' in the output");
    }

    [Theory]
    [MemberData(nameof(BicepFiles))]
    public void Modules_AreLocal(string file)
    {
        // Registry (br:, br/alias:) and template-spec (ts:) modules would need the network to restore.
        var text = File.ReadAllText(Repo.PathOf(file));

        Assert.DoesNotMatch(@"(?m)^\s*(module|import)\b[^\n]*'(br|ts)[:/]", text);
    }
}
