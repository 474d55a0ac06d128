using System;
using HeaderFraming.AspNetCore.Internal;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace HeaderFraming.AspNetCore;

/// <summary>Frames a Kestrel endpoint: <c>listenOptions.UseFraming&lt;THandler&gt;(codec, "name")</c>.</summary>
public static class FramingConnectionBuilderExtensions
{
    /// <summary>
    /// Serves the endpoint with <typeparamref name="THandler"/>: every connection is framed with <paramref name="codec"/> and
    /// the options named <paramref name="endpointName"/> (<c>IOptions&lt;FramedConnectionOptions&gt;</c> and
    /// <c>IOptions&lt;FramingEndpointOptions&gt;</c>, see <see cref="HeaderFramingServiceCollectionExtensions.AddHeaderFraming(IServiceCollection)"/>).
    /// Call it last, after <c>UseHttps</c> for TLS on the same endpoint.
    /// </summary>
    /// <typeparam name="THandler">The handler, made once from the application's services (or taken from them if registered).</typeparam>
    /// <param name="listenOptions">The endpoint, e.g. in <c>options.ListenAnyIP(1243, listen => …)</c>.</param>
    /// <param name="codec">The header format of both directions, e.g. <c>AsciiDecimalCodec.Default</c>.</param>
    /// <param name="endpointName">The name of the endpoint's options, logs and metrics; <see langword="null"/> for the
    /// unnamed options, the listen address in logs and metrics.</param>
    /// <returns><paramref name="listenOptions"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="listenOptions"/> or <paramref name="codec"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">(When Kestrel starts.) <c>AddHeaderFraming</c> was not called.</exception>
    /// <exception cref="OptionsValidationException">(When Kestrel starts.) The endpoint's options are invalid.</exception>
    public static ListenOptions UseFraming<THandler>(this ListenOptions listenOptions, IFrameCodec codec, string? endpointName = null)
        where THandler : FramedConnectionHandler
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        ArgumentNullException.ThrowIfNull(codec);
        Use<THandler>(listenOptions, codec, endpointName, () => listenOptions.EndPoint?.ToString() ?? "default");
        return listenOptions;
    }

    /// <summary>Serves connections with <typeparamref name="THandler"/> on any connection pipeline (a Kestrel endpoint's, or
    /// another server's); see <see cref="UseFraming{THandler}(ListenOptions, IFrameCodec, string?)"/>.</summary>
    /// <typeparam name="THandler">The handler.</typeparam>
    /// <param name="builder">The connection pipeline.</param>
    /// <param name="codec">The header format.</param>
    /// <param name="endpointName">The name of the endpoint's options, logs and metrics; <see langword="null"/> for the
    /// unnamed options and the name <c>default</c> in logs and metrics.</param>
    /// <returns><paramref name="builder"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="codec"/> is <see langword="null"/>.</exception>
    public static IConnectionBuilder UseFraming<THandler>(this IConnectionBuilder builder, IFrameCodec codec, string? endpointName = null)
        where THandler : FramedConnectionHandler
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(codec);
        Use<THandler>(builder, codec, endpointName, static () => "default");
        return builder;
    }

    private static void Use<THandler>(IConnectionBuilder builder, IFrameCodec codec, string? optionsName, Func<string> unnamed)
        where THandler : FramedConnectionHandler
    {
        // Resolved when Kestrel builds the pipeline, i.e. when it starts: missing services and bad options fail the start.
        builder.Use(_ =>
        {
            IServiceProvider services = builder.ApplicationServices;
            FramingServerMetrics metrics = services.GetService<FramingServerMetrics>() ?? throw new InvalidOperationException(
                "UseFraming needs the services of HeaderFraming.AspNetCore: call builder.Services.AddHeaderFraming() (or services.AddHeaderFraming(configuration)).");
            string name = optionsName ?? Options.DefaultName;
            var endpoint = new FramingEndpoint(
                optionsName,
                unnamed,
                codec,
                services.GetRequiredService<IOptionsMonitor<FramedConnectionOptions>>().Get(name),
                services.GetRequiredService<IOptionsMonitor<FramingEndpointOptions>>().Get(name),
                services.GetRequiredService<ILoggerFactory>().CreateLogger(Log.Category),
                metrics,
                services.GetService<TimeProvider>() ?? TimeProvider.System);
            THandler handler = ActivatorUtilities.GetServiceOrCreateInstance<THandler>(services);
            return connection =>
            {
                connection.Features.Set(endpoint);
                return handler.OnConnectedAsync(connection);
            };
        });
    }
}
