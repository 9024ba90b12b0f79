using Microsoft.Extensions.Options;
using VisualSearch.Imaging;

namespace VisualSearch.UnitTests.Imaging;

/// <summary>At most Imaging:MaxConcurrentDecodes decodes at once, a bounded queue behind them, then 503 (issue 20).</summary>
public sealed class DecodeGateTests
{
    [Fact]
    public async Task Past_the_slots_callers_queue_and_past_the_queue_they_are_told_to_retry()
    {
        var gate = new DecodeGate(Options.Create(new ImagingOptions { MaxConcurrentDecodes = 2, MaxQueuedDecodes = 1 }));
        Assert.Equal(2, gate.Slots);
        var first = await gate.EnterAsync();
        var second = await gate.EnterAsync();

        var queued = gate.EnterAsync().AsTask();
        Assert.False(queued.IsCompleted);
        Assert.Equal(1, gate.Queued);

        var busy = await Assert.ThrowsAsync<ServiceUnavailableException>(() => gate.EnterAsync().AsTask());
        Assert.True(busy.RetryAfter >= TimeSpan.FromSeconds(1));

        first.Dispose();
        var third = await queued; // the queued caller gets the freed slot
        Assert.Equal(0, gate.Queued);
        second.Dispose();
        third.Dispose();
        (await gate.EnterAsync()).Dispose();
    }

    [Fact]
    public async Task A_caller_that_gives_up_leaves_the_queue()
    {
        var gate = new DecodeGate(Options.Create(new ImagingOptions { MaxConcurrentDecodes = 1, MaxQueuedDecodes = 1 }));
        using var held = await gate.EnterAsync();
        using var cancel = new CancellationTokenSource();
        var waiting = gate.EnterAsync(cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(0, gate.Queued);
    }

    [Fact]
    public void Zero_slots_means_one_per_core()
    {
        Assert.Equal(Environment.ProcessorCount, new DecodeGate(Options.Create(new ImagingOptions())).Slots);
    }
}
