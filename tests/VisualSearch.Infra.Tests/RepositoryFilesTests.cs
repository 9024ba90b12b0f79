using System.Text.Json;
using System.Text.RegularExpressions;

namespace VisualSearch.Infra.Tests;

/// <summary>Checks on the files around the templates: linter policy, CI workflow, GPU image, docs.</summary>
public sealed partial class RepositoryFilesTests
{
    // Rules deliberately off; bicepconfig.json says why for each.
    private static readonly string[] RulesOff = ["use-recent-api-versions", "use-recent-module-versions", "use-user-defined-types"];

    [Fact]
    public void BicepConfig_RaisesEveryRuleThatIsOnToError()
    {
        using var config = JsonDocument.Parse(
            File.ReadAllText(Path.Combine(Repo.Infra, "bicepconfig.json")),
            new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var core = config.RootElement.GetProperty("analyzers").GetProperty("core");
        Assert.True(core.GetProperty("enabled").GetBoolean());

        var rules = core.GetProperty("rules").EnumerateObject().ToDictionary(r => r.Name, r => r.Value.GetProperty("level").GetString());
        Assert.True(rules.Count >= 40, $"only {rules.Count} rules configured");
        Assert.All(rules, rule => Assert.True(
            rule.Value == "error" || (rule.Value == "off" && RulesOff.Contains(rule.Key)),
            $"rule '{rule.Key}' is at level '{rule.Value}'"));
        Assert.False(config.RootElement.TryGetProperty("experimentalFeaturesEnabled", out _), "no experimental features");
    }

    [Fact]
    public void DeployWorkflow_IsOidcOnlyAndHasTheExpectedJobs()
    {
        var path = Repo.PathOf(".github", "workflows", "deploy.yml");
        Assert.True(File.Exists(path), $"{path} is missing");
        var text = File.ReadAllText(path);
        var lines = text.Split('\n');

        Assert.DoesNotContain('\t', text);
        var topLevel = lines.Where(l => TopLevelKey().IsMatch(l)).Select(l => l[..l.IndexOf(':', StringComparison.Ordinal)]).ToList();
        Assert.Equal(topLevel.Distinct().Count(), topLevel.Count);
        foreach (var key in new[] { "name", "on", "permissions", "jobs" })
        {
            Assert.Contains(key, topLevel);
        }

        var permissions = Block(lines, "permissions");
        Assert.Contains("  id-token: write", permissions);
        Assert.Contains("  contents: read", permissions);

        var on = string.Join('\n', Block(lines, "on"));
        Assert.Contains("push:", on, StringComparison.Ordinal);
        Assert.Contains("workflow_dispatch:", on, StringComparison.Ordinal);

        var jobs = Block(lines, "jobs").Where(l => JobKey().IsMatch(l)).Select(l => l.Trim().TrimEnd(':')).ToList();
        Assert.Contains("build", jobs);
        Assert.Contains("publish", jobs);
        Assert.Contains("deploy", jobs);

        Assert.Contains("bash .ci/run", text, StringComparison.Ordinal);
        // The page's MSAL.js is embedded from node_modules when the package is built: npm ci comes before the publish.
        var npm = text.IndexOf("npm ci --omit=dev", StringComparison.Ordinal);
        Assert.True(npm >= 0 && npm < text.IndexOf("dotnet publish \"$FUNCTIONS_PROJECT\"", StringComparison.Ordinal), "the publish job runs npm ci before dotnet publish");
        Assert.Contains("azure/login@v2", text, StringComparison.Ordinal);
        Assert.Contains("client-id: ${{ vars.AZURE_CLIENT_ID }}", text, StringComparison.Ordinal);
        Assert.Contains("az functionapp deployment source config-zip", text, StringComparison.Ordinal);
        Assert.Contains("what-if", text, StringComparison.Ordinal);
        // The deployment ends with a smoke test: health (model and index) and a search with a bundled photo.
        var smoke = text[text.LastIndexOf("- name: ", StringComparison.Ordinal)..];
        Assert.StartsWith("- name: Smoke test", smoke, StringComparison.Ordinal);
        Assert.Contains("/api/health", smoke, StringComparison.Ordinal);
        Assert.Contains("/api/search", smoke, StringComparison.Ordinal);
        Assert.Contains("samples/queries/", smoke, StringComparison.Ordinal);
        Assert.True(File.Exists(Repo.PathOf("samples", "queries", System.Text.RegularExpressions.Regex.Match(smoke, @"samples/queries/(\S+\.jpg)").Groups[1].Value)), "The smoke test's sample photo is missing.");
        // As a person's app: a bearer token, never a function key; a search without a token must be refused.
        Assert.Contains("Authorization: Bearer", smoke, StringComparison.Ordinal);
        Assert.DoesNotContain("x-functions-key", smoke, StringComparison.Ordinal);
        Assert.DoesNotContain("functionKeys", smoke, StringComparison.Ordinal);
        Assert.Contains("\"$status\" = 401", smoke, StringComparison.Ordinal);
        // OIDC: no long-lived credentials from secrets.
        Assert.DoesNotContain("AZURE_CREDENTIALS", text, StringComparison.Ordinal);
        Assert.DoesNotContain("publish-profile", text, StringComparison.Ordinal);
    }

    [Fact]
    public void DeployWorkflow_WiresEventGridWithTheSubscriptionsModuleOnlyAndABoundedRetry()
    {
        // Redeploying main.bicep rewrote the app settings and restarted the app while listKeys read the host keys and
        // Event Grid validated the webhook (issue 20, item 8).
        var lines = WorkflowLines();
        var wire = Step(lines, "Wire Event Grid");
        Assert.Contains("--template-file infra/modules/event-subscriptions.bicep", wire, StringComparison.Ordinal);
        Assert.DoesNotContain("main.bicep", wire, StringComparison.Ordinal);
        AssertBoundedRetry(wire, max: 10);

        // Every parameter of the module without a default is passed, from an output of main.bicep the infra step exports.
        var module = File.ReadAllText(Path.Combine(Repo.Infra, "modules", "event-subscriptions.bicep"));
        var main = File.ReadAllText(Path.Combine(Repo.Infra, "main.bicep"));
        var exported = Step(lines, "Deploy infrastructure");
        foreach (var parameter in RequiredParam().Matches(module).Select(m => m.Groups[1].Value))
        {
            var passed = Regex.Match(wire, $@"\b{parameter}=""\$\{{\{{ steps\.infra\.outputs\.(\w+) \}}\}}""");
            Assert.True(passed.Success, $"the Event Grid step does not pass '{parameter}' from steps.infra.outputs");
            var output = passed.Groups[1].Value;
            Assert.Matches($@"\b{output}\b", exported);
            Assert.Matches($@"(?m)^output {output} ", main);
        }
    }

    [Fact]
    public void DeployWorkflow_WaitsWithABoundForRoleAssignmentsBeforeDeployingCode()
    {
        // New role assignments take minutes to apply; the Flex package upload runs as the app's identity (item 9).
        var lines = WorkflowLines();
        var names = lines.Select(l => StepName().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value).ToList();
        var wait = names.FindIndex(n => n.StartsWith("Wait for the role assignments", StringComparison.Ordinal));
        Assert.True(wait > names.IndexOf("Deploy infrastructure"), "no wait step after the infrastructure deployment");
        Assert.All(names.Where(n => n.StartsWith("Deploy code", StringComparison.Ordinal)), n => Assert.True(names.IndexOf(n) > wait, $"'{n}' runs before the wait"));

        var waitStep = Step(lines, "Wait for the role assignments");
        AssertBoundedRetry(waitStep, max: 30);
        Assert.Contains("role assignments", waitStep, StringComparison.Ordinal);
        foreach (var code in names.Where(n => n.StartsWith("Deploy code", StringComparison.Ordinal)))
            AssertBoundedRetry(Step(lines, code), max: 10);
    }

    [Fact]
    public void GpuDockerfile_UsesTheFunctionsImageAndTheCudaProvider()
    {
        var dockerfile = File.ReadAllText(Path.Combine(Repo.Infra, "gpu", "Dockerfile"));

        Assert.Matches(@"(?m)^FROM mcr\.microsoft\.com/azure-functions/dotnet-isolated:4-dotnet-isolated10\.0", dockerfile);
        Assert.Contains("Encoder__ExecutionProvider=Cuda", dockerfile, StringComparison.Ordinal);
        Assert.Contains("/home/site/wwwroot", dockerfile, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(Repo.Infra, "gpu", "README.md")));
    }

    [Fact]
    public void DeployDoc_DocumentsEveryMainParameter()
    {
        var doc = File.ReadAllText(Repo.PathOf("docs", "deploy.md"));
        var main = File.ReadAllText(Path.Combine(Repo.Infra, "main.bicep"));
        var parameters = ParamDeclaration().Matches(main).Select(m => m.Groups[1].Value).ToList();

        Assert.NotEmpty(parameters);
        Assert.All(parameters, p => Assert.Contains($"| `{p}` |", doc, StringComparison.Ordinal));
    }

    private static string[] WorkflowLines() => File.ReadAllText(Repo.PathOf(".github", "workflows", "deploy.yml")).Split('\n');

    /// <summary>The text of the step whose name starts with <paramref name="name"/>, up to the next step.</summary>
    private static string Step(string[] lines, string name)
    {
        var start = Array.FindIndex(lines, l => StepName().Match(l) is { Success: true } m && m.Groups[1].Value.StartsWith(name, StringComparison.Ordinal));
        Assert.True(start >= 0, $"no step named '{name}...'");
        // Up to the next entry of the steps list, or the comment lines above it (at the list's indentation).
        var indent = lines[start].IndexOf('-', StringComparison.Ordinal);
        var end = Array.FindIndex(lines, start + 1, l => l.Length > indent && l[..indent].Trim().Length == 0 && l[indent] is '-' or '#');
        return string.Join('\n', lines[start..(end < 0 ? lines.Length : end)]);
    }

    /// <summary>A shell loop <c>for attempt in $(seq 1 N)</c> with N at most <paramref name="max"/>, that logs each attempt and fails after the last.</summary>
    private static void AssertBoundedRetry(string step, int max)
    {
        var loop = RetryLoop().Match(step);
        Assert.True(loop.Success, $"no bounded retry loop in:\n{step}");
        Assert.InRange(int.Parse(loop.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 2, max);
        Assert.Contains("echo", step, StringComparison.Ordinal);
        Assert.Contains("$attempt", step, StringComparison.Ordinal);
        Assert.Contains("exit 1", step, StringComparison.Ordinal);
    }

    private static List<string> Block(string[] lines, string key)
    {
        var start = Array.FindIndex(lines, l => l.TrimEnd() == key + ":");
        Assert.True(start >= 0, $"no top-level '{key}:' block");
        return lines.Skip(start + 1).TakeWhile(l => l.Length == 0 || l.StartsWith(' ') || l.StartsWith('#')).Select(l => l.TrimEnd()).ToList();
    }

    [GeneratedRegex(@"^[A-Za-z_-]+:")]
    private static partial Regex TopLevelKey();

    [GeneratedRegex(@"^  [A-Za-z_-]+:\s*$")]
    private static partial Regex JobKey();

    [GeneratedRegex(@"(?m)^param (\w+) ")]
    private static partial Regex ParamDeclaration();

    [GeneratedRegex(@"(?m)^param (\w+) \w+\s*$")]
    private static partial Regex RequiredParam();

    [GeneratedRegex(@"^\s*- name: (.+?)\s*$")]
    private static partial Regex StepName();

    [GeneratedRegex(@"for attempt in \$\(seq 1 (\d+)\)")]
    private static partial Regex RetryLoop();
}
