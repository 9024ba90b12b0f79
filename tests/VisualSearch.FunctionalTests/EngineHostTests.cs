using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
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

    [Fact]
    public async Task The_one_shot_runtime_switches_are_set_and_the_engine_still_composes_and_binds_its_options()
    {
        EngineHost.UseOneShotRuntime();

        Assert.True(AppContext.TryGetSwitch(EngineHost.InterpretedInvokeSwitch, out var interpreted) && interpreted);
        Assert.True(AppContext.TryGetSwitch(EngineHost.DependencyInjectionDynamicEngineSwitch, out var noDynamic) && noDynamic);
        // The engine's services and validated options resolve as before with reflection interpreted and call sites not compiled.
        using var dir = new TempDirectory();
        using var host = EngineHost.Build(CliArgs.Parse(["--index", dir.Path]), new Dictionary<string, string?> { ["Encoder:WarmUpOnStart"] = "false", ["Imaging:MaxQueuedDecodes"] = "7" });
        await host.StartAsync();
        var imaging = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<VisualSearch.Imaging.ImagingOptions>>().Value;
        Assert.Equal(7, imaging.MaxQueuedDecodes);
        Assert.Same(host.Services.GetRequiredService<VisualSearch.Ingestion.IngestionService>(), host.Services.GetRequiredService<VisualSearch.Ingestion.IngestionService>());
        await host.StopAsync();
    }
}
