using System.Diagnostics;
using VisualSearch.Functions.HostTests.Harness;
using VisualSearch.Functions.HostTests.Infrastructure;

namespace VisualSearch.Functions.HostTests;

/// <summary>The harness leaves nothing behind: WorkerTerminate ends the worker by itself, and its process and ports are gone.</summary>
public sealed class LifecycleTests
{
    [Fact]
    public async Task Disposing_the_harness_terminates_the_worker_and_leaves_no_process()
    {
        using var index = new TempDirectory("vs-ht-life-");
        var worker = await FunctionsHostHarness.StartAsync(WorkerFixture.Settings("UseDevelopmentStorage=true", index.Path));
        var pid = worker.ProcessId;
        var httpPort = worker.HttpUri.Port;
        Assert.True(worker.Times.StreamOpened <= worker.Times.Initialized && worker.Times.Initialized <= worker.Times.FunctionsLoaded);

        await worker.DisposeAsync();

        Assert.True(worker.ExitedByItself, "The worker did not exit after WorkerTerminate and was killed.");
        Assert.Throws<ArgumentException>(() => Process.GetProcessById(pid));
        Assert.False(await AzuriteProcess.IsListeningAsync(httpPort), $"Something still listens on the worker's HTTP port {httpPort}.");
    }

    [Fact]
    public async Task A_worker_that_cannot_start_fails_the_start_with_its_output()
    {
        // An index provider that does not exist: the worker's options validation stops it at start.
        using var index = new TempDirectory("vs-ht-life-");
        var settings = WorkerFixture.Settings("UseDevelopmentStorage=true", index.Path);
        settings["VectorIndex:Provider"] = "Nope";

        var ex = await Assert.ThrowsAnyAsync<Exception>(() => FunctionsHostHarness.StartAsync(settings));
        Assert.Contains("VectorIndex:Provider", ex.Message, StringComparison.Ordinal);
    }
}
