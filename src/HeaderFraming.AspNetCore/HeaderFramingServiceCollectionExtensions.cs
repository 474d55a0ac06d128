using System;
using HeaderFraming.AspNetCore.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace HeaderFraming.AspNetCore;

/// <summary>Registers HeaderFraming.AspNetCore's services: <c>builder.Services.AddHeaderFraming(builder.Configuration.GetSection("HeaderFraming"))</c>.</summary>
public static class HeaderFramingServiceCollectionExtensions
{
    /// <summary>Registers what <c>UseFraming</c> needs: the metrics (<see cref="FramingServerMeter"/>), logging, and the
    /// validation of every endpoint's options. Configure endpoints with the returned builder.</summary>
    /// <param name="services">The application's services.</param>
    /// <returns>A builder for the endpoints' options.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is <see langword="null"/>.</exception>
    public static HeaderFramingBuilder AddHeaderFraming(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions();
        services.AddLogging();
        services.AddMetrics();
        services.TryAddSingleton<FramingServerMetrics>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FramingEndpointOptions>, FramingEndpointOptionsValidator>());
        return new HeaderFramingBuilder(services);
    }

    /// <summary>
    /// Registers the services (see <see cref="AddHeaderFraming(IServiceCollection)"/>) and binds one endpoint per child of
    /// <paramref name="configuration"/>'s <c>Endpoints</c> section, named after it, validated when the host starts:
    /// <code>
    /// "HeaderFraming": {
    ///   "Endpoints": {
    ///     "time": { "SegmentSize": 16384, "Reader": { "MaxFrameLength": 65536 }, "SlowConsumerThreshold": "00:00:10" }
    ///   }
    /// }
    /// </code>
    /// </summary>
    /// <param name="services">The application's services.</param>
    /// <param name="configuration">The package's section, e.g. <c>builder.Configuration.GetSection("HeaderFraming")</c>.</param>
    /// <returns>A builder for the endpoints' options.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static HeaderFramingBuilder AddHeaderFraming(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        HeaderFramingBuilder builder = services.AddHeaderFraming();
        foreach (IConfigurationSection endpoint in configuration.GetSection("Endpoints").GetChildren())
        {
            builder.AddEndpoint(endpoint.Key, endpoint);
        }

        return builder;
    }
}
