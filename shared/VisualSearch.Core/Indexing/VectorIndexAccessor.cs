using VisualSearch.Embedding;

namespace VisualSearch.Indexing;

/// <summary>
/// Hands out the configured index, opened once for the configured model's schema. The first call loads the
/// model (its identity fixes the schema) and fails loudly if the index holds another model's vectors.
/// </summary>
public sealed class VectorIndexAccessor(IVectorIndex index, IImageEncoder encoder)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile bool _ready;

    public string Kind => index.Kind;

    public async Task<IVectorIndex> GetAsync(CancellationToken cancellationToken = default)
    {
        if (_ready) return index;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_ready)
            {
                var model = encoder.Model;
                await index.InitializeAsync(new IndexSchema(model.Id, model.Dimension) { Regions = model.Regions }, cancellationToken).ConfigureAwait(false);
                _ready = true;
            }
        }
        finally
        {
            _gate.Release();
        }

        return index;
    }
}
