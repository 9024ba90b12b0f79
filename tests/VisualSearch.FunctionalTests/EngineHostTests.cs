using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Configuration.Json;
using VisualSearch.Cli;

namespace VisualSearch.FunctionalTests;

/// <summary>
/// The one-shot commands' host reads appsettings.json and the environment as the default host does, but never watches
/// the files: the default reloadOnChange watches the current directory recursively (thousands of inotify watches from a
/// repository's root at every start of <c>vsearch index</c>).
/// </summary>
public sealed class EngineHostTests
{
    [Fact]
    public void The_command_host_reads_the_json_files_and_the_environment_without_watching_them()
    {
        var builder = EngineHost.CreateBuilder();
        var sources = ((IConfigurationBuilder)builder.Configuration).Sources;

        var json = sources.OfType<JsonConfigurationSource>().ToList();
        Assert.Contains(json, s => s.Path == "appsettings.json");
        Assert.All(json, s => Assert.False(s.ReloadOnChange, $"{s.Path} is watched"));
        Assert.Contains(sources, s => s is EnvironmentVariablesConfigurationSource);
    }
}
