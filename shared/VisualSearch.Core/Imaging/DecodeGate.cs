using Microsoft.Extensions.Options;

namespace VisualSearch.Imaging;

/// <summary>
/// Bounds how many images this process decodes and embeds at once (Imaging:MaxConcurrentDecodes, default the core
/// count): a decode is what costs memory (a 100 MP image within the limits is hundreds of MB while it is decoded),
/// and more decodes than cores only add memory, not throughput. Callers past the bound wait in a queue of at most
/// Imaging:MaxQueuedDecodes; past that they get <see cref="ServiceUnavailableException"/> (503 with Retry-After).
/// </summary>
public sealed class DecodeGate
{
    private static readonly TimeSpan BusyRetryAfter = TimeSpan.FromSeconds(1);
    private readonly SemaphoreSlim _slots;
    private readonly int _maxQueued;
    private int _queued;

    public DecodeGate(IOptions<ImagingOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Slots = options.Value.MaxConcurrentDecodes > 0 ? options.Value.MaxConcurrentDecodes : Environment.ProcessorCount;
        _maxQueued = options.Value.MaxQueuedDecodes;
        _slots = new SemaphoreSlim(Slots, Slots);
    }

    /// <summary>Decodes that may run at once.</summary>
    public int Slots { get; }

    /// <summary>Callers waiting for a slot now.</summary>
    public int Queued => Volatile.Read(ref _queued);

    /// <summary>Takes a slot (waiting in the queue if all are busy); dispose the lease to give it back.</summary>
    public async ValueTask<Lease> EnterAsync(CancellationToken cancellationToken = default)
    {
        if (_slots.Wait(0, CancellationToken.None)) return new Lease(_slots);
        if (Interlocked.Increment(ref _queued) > _maxQueued)
        {
            Interlocked.Decrement(ref _queued);
            throw new ServiceUnavailableException(
                $"All {Slots} decode slots are busy and {_maxQueued} images wait already; try again in a moment.", BusyRetryAfter);
        }

        try
        {
            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _queued);
        }

        return new Lease(_slots);
    }

    /// <summary>A held slot.</summary>
    public readonly struct Lease(SemaphoreSlim slots) : IDisposable
    {
        public void Dispose() => slots?.Release();
    }
}
